"""What the tests share: pass criteria, the activation catalogue, operands,
reference comparisons, fresh processes. criteria.py and
activation_catalogue.py import neither TensorFlow nor Keras (the GPU tests
use them on machines that have neither); the other modules need both."""
