"""What every test compares with: the per-dtype tolerances (stated here and
nowhere else), the activation catalogue with the kinks of each activation,
and random operands that keep z away from those kinks."""

import dataclasses

import numpy as np
import tensorflow as tf

import spatial_ops
from spatial_ops import Activation

# Relative tolerance per dtype of the fused result against the reference.
# Half types are compared with the reference evaluated in float64 on the same
# (rounded) inputs: the kernels compute in float32 and round once, so the
# error is about one unit in the last place of the half type.
TOLERANCES = {
    tf.float16: 2e-3,
    tf.bfloat16: 1.6e-2,
    tf.float32: 2e-5,
    tf.float64: 1e-10,
}
DTYPES = tuple(TOLERANCES)
HALF_DTYPES = (tf.float16, tf.bfloat16)


def reference_dtype(dtype):
    """The dtype the reference runs in for a fused computation in dtype."""
    return tf.float64 if dtype in HALF_DTYPES else dtype


def assert_close(actual, expected, dtype, what="result"):
    """|actual - expected| <= tol * (|expected| + rms(expected)) elementwise,
    so values near zero are judged against the tensor's own scale."""
    actual = np.asarray(tf.cast(actual, tf.float64))
    expected = np.asarray(tf.cast(expected, tf.float64))
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.size == 0:
        return
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(actual), finite, err_msg=f"{what}: Inf/NaN pattern")
    scale = max(float(np.sqrt(np.mean(expected[finite] ** 2))) if finite.any() else 1.0, 1e-30)
    tol = TOLERANCES[dtype]
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=tol, atol=tol * scale,
                               err_msg=f"{what} ({dtype.name})")


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
    """x, kernel, bias (NumPy, in dtype) with every z = x * kernel + bias at
    least `margin` from each kink, so finite differences and the fused
    float32 z versus a float64 reference never straddle a kink. |z| < 9."""
    kernel = _rounded(rng.uniform(0.5, 1.5, weight_shape) * rng.choice([-1.0, 1.0], weight_shape), dtype)
    bias = _rounded(np.clip(rng.normal(0, 0.6, weight_shape), -1.5, 1.5), dtype) if use_bias else None
    x = _rounded(np.clip(rng.normal(0, 1.5, x_shape), -4.5, 4.5), dtype)
    for _ in range(50):
        z = x * kernel + (bias if use_bias else 0.0)
        near = np.zeros(z.shape, bool)
        for kink in kinks:
            near |= np.abs(z - kink) < margin
        if not near.any():
            break
        # Moving x by 0.3 moves z by at least 0.15 (|kernel| >= 0.5).
        x = np.where(near, _rounded(x + rng.choice([-0.3, 0.3], x.shape), dtype), x)
    else:
        raise AssertionError("could not draw operands away from the kinks")
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
