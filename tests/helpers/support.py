"""What every TensorFlow test compares with: the criteria of criteria.py
(per-dtype tolerances, the comparison, operands away from kinks) for
TensorFlow dtypes, and the grid of cases.py (the activation catalogue with
each activation as a user passes it, the reductions)."""

import tensorflow as tf

import spatial_ops
from helpers import cases
from helpers.cases import ACTIVATION_IDS, ACTIVATIONS, REDUCTIONS_3D, REDUCTIONS_4D  # noqa: F401
from spatial_ops.testing import criteria

TOLERANCES = {tf.as_dtype(name): tol for name, tol in criteria.TOLERANCES.items()}
DTYPES = (tf.float16, tf.bfloat16, tf.float32, tf.float64)
HALF_DTYPES = (tf.float16, tf.bfloat16)


def reference_dtype(dtype):
    """The dtype the reference runs in for a fused computation in dtype:
    float64 always. For float32 too: TensorFlow's float32 tanh-form
    gelu and its gradient cancel to exactly 0 in the tail (1 + tanh u), where
    the kernels are accurate, and a float32 reference there failed a gradient
    check by more than the tolerance."""
    return tf.float64


def assert_close(actual, expected, dtype, what="result", magnitude=None):
    """criteria.assert_close for tensors or arrays, dtype a tf.DType."""
    criteria.assert_close(tf.cast(actual, tf.float64), tf.cast(expected, tf.float64), dtype.name, what, magnitude)


def numpy_dtype(dtype):
    return dtype.as_numpy_dtype


def draw_operands(rng, x_shape, weight_shape, dtype, kinks=(), use_bias=True, margin=1e-3):
    """x, kernel, bias (NumPy, in dtype, a tf.DType): cases.draw_operands."""
    return cases.draw_operands(rng, x_shape, weight_shape, dtype.name, kinks, use_bias, margin)


def both(x, kernel, bias, dtype, **kwargs):
    """The fused result in dtype and the reference in reference_dtype(dtype)."""
    ref_dtype = reference_dtype(dtype)
    cast = lambda a: None if a is None else tf.constant(a.astype(numpy_dtype(ref_dtype)))
    fused = spatial_ops.spatial_dense(
        tf.constant(x), tf.constant(kernel), None if bias is None else tf.constant(bias), **kwargs
    )
    expected = spatial_ops.reference.spatial_dense(cast(x), cast(kernel), cast(bias), **kwargs)
    return fused, expected
