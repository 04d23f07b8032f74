"""The pass criteria every test and benchmark shares, with NumPy alone (the
GPU tests run where there is no TensorFlow): the per-dtype tolerances, stated here
and nowhere else, the comparison with a reference, and operands drawn with
z = x * kernel + bias away from an activation's kinks."""

import numpy as np

# Relative tolerance per dtype name of a fused result against the reference.
# Half types are compared with the reference evaluated in float64 on the same
# (rounded) inputs: the kernels compute in float32 and round once, so the
# error is about one unit in the last place of the half type.
TOLERANCES = {
    "float16": 2e-3,
    "bfloat16": 1.6e-2,
    "float32": 2e-5,
    "float64": 1e-10,
}


def assert_close(actual, expected, dtype_name, what="result", magnitude=None):
    """|actual - expected| <= tol * (|expected| + rms(expected)) elementwise,
    with the same Inf/NaN pattern, so values near zero are judged against
    the tensor's own scale. actual, expected: anything NumPy converts.
    magnitude, for sums whose terms cancel: the sum of the terms' absolute
    values, in place of |expected| (two float32 sums of the same terms
    differ by rounding on that scale, however small the sum)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.size == 0:
        return
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(actual), finite, err_msg=f"{what}: Inf/NaN pattern")
    scale = max(float(np.sqrt(np.mean(expected[finite] ** 2))) if finite.any() else 1.0, 1e-30)
    tol = TOLERANCES[dtype_name]
    if magnitude is None:
        np.testing.assert_allclose(
            actual[finite], expected[finite], rtol=tol, atol=tol * scale, err_msg=f"{what} ({dtype_name})"
        )
        return
    bound = tol * (np.broadcast_to(np.asarray(magnitude, np.float64), expected.shape)[finite] + scale)
    excess = np.abs(actual[finite] - expected[finite]) - bound
    assert (excess <= 0).all(), (
        f"{what} ({dtype_name}): off by more than {tol} x (sum of |terms| + rms) at "
        f"{int((excess > 0).sum())} of {excess.size}; largest excess {excess.max():.3g}"
    )


def draw_operands(rng, x_shape, weight_shape, round_to, kinks=(), use_bias=True, margin=1e-3):
    """x, kernel, bias as float64 arrays that round_to (values -> the same
    values rounded to the tested dtype, as float64) leaves unchanged, with
    every z = x * kernel + bias at least `margin` from each kink, so finite
    differences and the fused float32 z versus a float64 reference never
    straddle a kink. |z| < 9."""
    kernel = round_to(rng.uniform(0.5, 1.5, weight_shape) * rng.choice([-1.0, 1.0], weight_shape))
    bias = round_to(np.clip(rng.normal(0, 0.6, weight_shape), -1.5, 1.5)) if use_bias else None
    x = round_to(np.clip(rng.normal(0, 1.5, x_shape), -4.5, 4.5))
    for _ in range(50):
        z = x * kernel + (bias if use_bias else 0.0)
        near = np.zeros(z.shape, bool)
        for kink in kinks:
            near |= np.abs(z - kink) < margin
        if not near.any():
            return x, kernel, bias
        # Moving x by 0.3 moves z by at least 0.15 (|kernel| >= 0.5).
        x = np.where(near, round_to(x + rng.choice([-0.3, 0.3], x.shape)), x)
    raise AssertionError("could not draw operands away from the kinks")
