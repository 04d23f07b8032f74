"""What every TensorFlow test compares with: the criteria of criteria.py
(per-dtype tolerances, the comparison, operands away from kinks) for
TensorFlow dtypes, and the activation catalogue with the kinks of each
activation."""

import dataclasses

import numpy as np
import tensorflow as tf

import criteria
import spatial_ops
from spatial_ops import Activation

TOLERANCES = {tf.as_dtype(name): tol for name, tol in criteria.TOLERANCES.items()}
DTYPES = (tf.float16, tf.bfloat16, tf.float32, tf.float64)
HALF_DTYPES = (tf.float16, tf.bfloat16)


def reference_dtype(dtype):
    """The dtype the reference runs in for a fused computation in dtype."""
    return tf.float64 if dtype in HALF_DTYPES else dtype


def assert_close(actual, expected, dtype, what="result"):
    """criteria.assert_close for tensors or arrays, dtype a tf.DType."""
    criteria.assert_close(tf.cast(actual, tf.float64), tf.cast(expected, tf.float64), dtype.name, what)


@dataclasses.dataclass(frozen=True)
class Case:
    """An activation as a user passes it, and the z values where it (or its
    derivative) jumps."""

    id: str
    activation: object
    kinks: tuple = ()


ACTIVATIONS = (
    Case("linear", None),
    Case("relu", "relu", (0.0,)),
    Case("relu_params", Activation("relu", negative_slope=0.1, max_value=4.0, threshold=0.5), (0.5, 4.0)),
    Case("relu_max6", Activation("relu", max_value=6.0), (0.0, 6.0)),
    Case("relu6", "relu6", (0.0, 6.0)),
    Case("leaky_relu", "leaky_relu", (0.0,)),
    Case("leaky_relu_0.05", Activation("leaky_relu", negative_slope=0.05), (0.0,)),
    Case("elu", "elu", (0.0,)),
    Case("elu_0.3", Activation("elu", alpha=0.3), (0.0,)),
    Case("celu", "celu", (0.0,)),
    Case("celu_1.7", Activation("celu", alpha=1.7), (0.0,)),
    Case("selu", "selu", (0.0,)),
    Case("gelu", "gelu"),
    Case("gelu_tanh", Activation("gelu", approximate=True)),
    Case("sigmoid", "sigmoid"),
    Case("hard_sigmoid", "hard_sigmoid", (-3.0, 3.0)),
    Case("log_sigmoid", "log_sigmoid"),
    Case("sparse_sigmoid", "sparse_sigmoid", (-1.0, 1.0)),
    Case("tanh", "tanh"),
    Case("hard_tanh", "hard_tanh", (-1.0, 1.0)),
    Case("tanh_shrink", "tanh_shrink"),
    Case("hard_shrink", "hard_shrink", (-0.5, 0.5)),
    Case("hard_shrink_1.5", Activation("hard_shrink", threshold=1.5), (-1.5, 1.5)),
    Case("soft_shrink", "soft_shrink", (-0.5, 0.5)),
    Case("softplus", "softplus"),
    Case("sparse_plus", "sparse_plus", (-1.0, 1.0)),
    Case("squareplus", "squareplus"),
    Case("squareplus_0.5", Activation("squareplus", b=0.5)),
    Case("softsign", "softsign", (0.0,)),
    Case("silu", "silu"),
    Case("swish", "swish"),
    Case("hard_silu", "hard_silu", (-3.0, 3.0)),
    Case("hard_swish", "hard_swish", (-3.0, 3.0)),
    Case("mish", "mish"),
    Case("exponential", "exponential"),
    Case("threshold", Activation("threshold", threshold=0.2, default_value=-1.5), (0.2,)),
    # The other parameter patterns of relu and celu (a negative alpha makes
    # celu's exponent positive), each its own kernel form (last, so that the
    # slices some tests take of this table keep their rows).
    Case("relu_threshold", Activation("relu", threshold=0.5), (0.5,)),
    Case("relu_max_threshold", Activation("relu", max_value=4.0, threshold=0.5), (0.5, 4.0)),
    Case("relu_slope_threshold", Activation("relu", negative_slope=0.1, threshold=-0.5), (-0.5, 0.0)),
    Case("relu_slope_max", Activation("relu", negative_slope=0.2, max_value=5.0), (0.0, 5.0)),
    Case("celu_negative_alpha", Activation("celu", alpha=-0.8), (0.0,)),
)
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
