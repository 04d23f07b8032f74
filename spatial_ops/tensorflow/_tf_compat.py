"""What differs between the supported TensorFlow releases (2.16 to 2.21) for
spatial_ops' Python side, in one place.

Exact gelu: tf.nn.gelu(approximate=False), which keras.activations.gelu
calls, is 0.5 x (1 + erf(x / c)) with c = sqrt(2) held in float32 before
TensorFlow 2.19, and 0.5 x erfc(-x c') with c' = sqrt(1/2) held in float32
from 2.19 on. The two round differently (up to about 1e-6 relative in float64)
and the older one cancels to 0 for large negative x. The fused kernel computes
the newer form (csrc/core/activations.h), and so does the reference on
every release: one ground truth for all of them.

(The C++ side compiles unchanged against every release. The one thing the
headers stopped carrying, TensorFlow's version, reaches the op library through
the build instead: csrc/tf/build_stamp.cc.)
"""

import tensorflow as tf

_RELEASE = tuple(int(part) for part in tf.__version__.split(".")[:2])
_GELU_IS_ERFC_FORM = _RELEASE >= (2, 19)


def _gelu_erfc_form(x):
    """tf.nn.gelu(x, approximate=False) as TensorFlow 2.19 and later compute it."""
    x = tf.convert_to_tensor(x)
    return 0.5 * x * tf.math.erfc(-x * tf.cast(tf.constant(0.7071067811865476, tf.float32), x.dtype))


def reference_function(resolved):
    """The plain-TensorFlow function the reference applies for an activation
    resolved by spatial_ops.activations.resolve."""
    if resolved.table_row == "gelu" and not _GELU_IS_ERFC_FORM:
        return _gelu_erfc_form
    return resolved.fn
