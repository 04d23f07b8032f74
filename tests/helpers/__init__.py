"""What the tests share beyond spatial_ops.testing (the activation catalogue
and the pass criteria, shared with the benchmarks): operands, reference
comparisons, fresh processes. cases.py and numpy_reference.py import neither
TensorFlow nor Keras (the GPU tests use them on machines that have neither);
the other modules need both."""
