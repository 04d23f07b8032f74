"""The TensorFlow front-end: the fused op as a TensorFlow op with its
registered gradients (ops.py), the same math as plain TensorFlow composites
(reference.py), what XLA tracing needs (_xla.py) and SpatialDense for
tf_keras (tf_keras_layers.py, imported on its own: it needs tf_keras).

Importing it imports TensorFlow (or raises an ImportError that says how to
install it) but does not load the op library: the first op call does, or
load_op_library(), which spatial_ops' import calls when TensorFlow is the
Keras backend in use, so that the ops are registered for tf.saved_model.load
and a broken build is reported at import."""

from . import reference
from ._loader import LIBRARY
from ._xla import in_xla_context
from .ops import runs_fused_in_xla, spatial_dense


def load_op_library():
    """Loads the op library now, or raises the loader's ImportError saying why it cannot."""
    LIBRARY.load()


__all__ = ["in_xla_context", "load_op_library", "reference", "runs_fused_in_xla", "spatial_dense"]
