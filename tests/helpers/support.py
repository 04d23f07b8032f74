"""What every TensorFlow test compares with: the criteria of criteria.py
(per-dtype tolerances, the comparison, operands away from kinks) for
TensorFlow dtypes, and the activation catalogue with each activation as a
user passes it."""

import dataclasses

import numpy as np
import tensorflow as tf

import spatial_ops
from helpers import activation_catalogue, criteria
from spatial_ops import Activation

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


@dataclasses.dataclass(frozen=True)
class Case:
    """An activation as a user passes it, and the z values where it (or its
    derivative) jumps."""

    id: str
    activation: object
    kinks: tuple = ()


# The activation catalogue (activation_catalogue.py), as users pass each one.
ACTIVATIONS = tuple(Case(case.id, case.user_form(Activation), case.kinks)
                    for case in activation_catalogue.CATALOGUE)
ACTIVATION_IDS = [case.id for case in ACTIVATIONS]

# (reduce_axis, reduction) pairs for a 3-D input, and for a 4-D input where
# runs of several axes (contiguous or not) are reduced.
REDUCTIONS_3D = ((None, "sum"), (1, "sum"), (-1, "sum"), (1, "mean"), (-1, "mean"), ((1, 2), "sum"))
REDUCTIONS_4D = (((1, 2), "sum"), ((2, 3), "mean"), ((1, 3), "sum"), ((-1, -3), "mean"), ((1, 2, 3), "sum"))


def numpy_dtype(dtype):
    return dtype.as_numpy_dtype


def _rounded(values, dtype):
    return values.astype(numpy_dtype(dtype)).astype(np.float64)


def draw_operands(rng, x_shape, weight_shape, dtype, kinks=(), use_bias=True, margin=1e-3):
    """x, kernel, bias (NumPy, in dtype): criteria.draw_operands rounded to dtype."""
    x, kernel, bias = criteria.draw_operands(rng, x_shape, weight_shape, lambda v: _rounded(v, dtype),
                                             kinks, use_bias, margin)
    to_dtype = numpy_dtype(dtype)
    return x.astype(to_dtype), kernel.astype(to_dtype), (bias.astype(to_dtype) if use_bias else None)


def both(x, kernel, bias, dtype, **kwargs):
    """The fused result in dtype and the reference in reference_dtype(dtype)."""
    ref_dtype = reference_dtype(dtype)
    cast = lambda a: None if a is None else tf.constant(a.astype(numpy_dtype(ref_dtype)))
    fused = spatial_ops.spatial_dense(tf.constant(x), tf.constant(kernel),
                                      None if bias is None else tf.constant(bias), **kwargs)
    expected = spatial_ops.reference.spatial_dense(cast(x), cast(kernel), cast(bias), **kwargs)
    return fused, expected
