"""The edges of the number line, forward and gradients, every activation and
dtype: NaN and Inf in any operand, very large |z|, subnormal operands, and
float16 results beyond its range.

At these edges a half-type call is compared with the reference in float32,
the type the kernels compute half types in, rounded to the half type:
whether an intermediate overflows or underflows is float32's call there.
(TensorFlow's own float16 composite rounds z to float16 and overflows
sooner; the float64 reference of helpers/support.py serves the interior, where
float32 and float64 agree far below the half tolerances.)"""

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.reference_checks import (
    assert_close_at_scale,
    assert_close_elementwise,
    forward_and_gradients,
    term_magnitudes,
)
from helpers.support import ACTIVATION_IDS, ACTIVATIONS, DTYPES, HALF_DTYPES, draw_operands, numpy_dtype

pytestmark = pytest.mark.sanitized

DTYPE_IDS = [d.name for d in DTYPES]


def edge_reference_dtype(dtype):
    return tf.float32 if dtype in HALF_DTYPES else dtype


def fused_and_reference(x, kernel, bias, dy, dtype, activation, ref_dtype=None, **reduce):
    """(fused y and gradients, reference y and gradients rounded to dtype,
    term magnitudes) for operands given in dtype; the reference runs in
    ref_dtype, edge_reference_dtype(dtype) unless given."""
    ref_type = numpy_dtype(ref_dtype or edge_reference_dtype(dtype))
    as_ref = [None if a is None else a.astype(ref_type) for a in (x, kernel, bias, dy)]
    fused, fused_grads = forward_and_gradients(
        spatial_ops.spatial_dense, x, kernel, bias, dy, activation=activation, **reduce
    )
    expected, expected_grads = forward_and_gradients(
        spatial_ops.reference.spatial_dense, *as_ref, activation=activation, **reduce
    )
    rounded = [tf.cast(tf.cast(t, dtype), tf.float64) for t in (expected, *expected_grads)]
    magnitudes = term_magnitudes(*as_ref, activation=activation, **reduce)
    names = ("y", "dx", "dkernel", "dbias")[: len(rounded)]
    return dict(zip(names, (fused, *fused_grads))), dict(zip(names, rounded)), magnitudes


# --- NaN and Inf ----------------------------------------------------------


def special_operands(dtype):
    """x [2, 3, 6], weights [3, 6]: row 0 of x, row 1 of the kernel and row
    2 of the bias run through NaN, +-Inf, 0 and +-1.5; the other operands
    are ordinary there. The second batch row is the first negated."""
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, 1.5, -1.5])
    x = np.full((2, 3, specials.size), 1.25)
    x[:, 0] = specials
    x[1] *= -1
    kernel = np.full((3, specials.size), 0.75)
    kernel[1] = specials
    bias = np.full((3, specials.size), 0.25)
    bias[2] = specials
    return tuple(a.astype(numpy_dtype(dtype)) for a in (x, kernel, bias))


@pytest.mark.parametrize("reduce_axis,reduction", [(None, "sum"), (-1, "sum"), (-1, "mean"), (1, "sum")], ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_nan_and_inf_in_any_operand_propagate_as_in_the_reference(rng, case, dtype, reduce_axis, reduction):
    x, kernel, bias = special_operands(dtype)
    reduce = dict(reduce_axis=reduce_axis, reduction=reduction)
    y_shape = spatial_ops.reference.spatial_dense(x, kernel, bias, activation=case.activation, **reduce).shape
    dy = rng.normal(size=y_shape).astype(numpy_dtype(dtype))
    fused, expected, _ = fused_and_reference(x, kernel, bias, dy, dtype, case.activation, **reduce)
    for name in fused:
        assert_close_elementwise(fused[name], expected[name], dtype, scale=1.0, what=name)


# --- large |z| ------------------------------------------------------------

LARGE_Z = {
    tf.float16: (12.0, 20.0, 100.0, 1e3, 1e4, 3e4, 65504.0),
    tf.bfloat16: (20.0, 50.0, 89.0, 100.0, 1e4, 1e10, 1e20, 1e30, 3e38),
    tf.float32: (20.0, 50.0, 89.0, 100.0, 700.0, 1e4, 1e10, 1e20, 1e30, 3e38),
    tf.float64: (20.0, 50.0, 100.0, 700.0, 1e4, 1e10, 1e30, 1e100, 1e300, 1.7e308),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_large_z_is_finite_where_the_reference_is(case, dtype):
    """z = +-LARGE_Z: y and dy/dz agree with the reference, finite wherever it
    is, Inf where it overflows. Where TensorFlow's gradient is NaN for a
    finite z (the tanh-approximate gelu and squareplus at |z| >~ 1e19 form
    Inf * 0), the fused gradient is finite."""
    z = np.array(LARGE_Z[dtype])
    x = np.concatenate([z, -z])[None, :].astype(numpy_dtype(dtype))
    kernel = np.ones(x.shape[1:], x.dtype)
    fused, expected, _ = fused_and_reference(x, kernel, None, np.ones_like(x), dtype, case.activation)
    for name in ("y", "dx"):
        got, want = (np.asarray(t, np.float64) for t in (fused[name], expected[name]))
        assert not np.isnan(got).any(), f"{name}: NaN at z = {x[np.isnan(got)]}"
        defined = ~np.isnan(want)
        assert_close_elementwise(got[defined], want[defined], dtype, scale=1.0, what=name)


# --- subnormals -----------------------------------------------------------


def with_subnormals(rng, values, dtype):
    """values with about half the elements replaced by subnormals of dtype
    (both signs, across the subnormal range) or zeros."""
    info = ml_dtypes.finfo(numpy_dtype(dtype))
    steps = rng.integers(0, 2 ** int(info.nmant), values.shape)  # multiples of the smallest subnormal
    subnormal = steps * float(info.smallest_subnormal) * rng.choice([-1.0, 1.0], values.shape)
    replaced = np.where(rng.random(values.shape) < 0.5, subnormal, values.astype(np.float64))
    return replaced.astype(numpy_dtype(dtype))


@pytest.mark.parametrize("shape", [(3, 5, 7), (64, 67, 61)], ids=["small", "threaded"])
@pytest.mark.parametrize("where", ["x", "kernel"])
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_subnormal_operands(rng, case, dtype, where, shape):
    """Subnormals (of dtype) in x or in the kernel, and in the bias: z is then
    subnormal or zero. TensorFlow's CPU threads flush subnormals to zero in
    float32 and float64, and the fused kernels run on them too, so both
    sides see zeros, whichever thread runs a block. Half-type subnormals are
    ordinary float32 numbers, and results judged at their own (tiny) scale.
    float16's are judged against the float64 reference: TensorFlow's float32
    elu and selu form exp(z) - 1, which is 0 for |z| below 2^-25, so their
    gradients take the z >= 0 side at such z < 0, where the kernels' expm1
    does not. bfloat16's subnormals are float32's, flushed on both sides."""
    x, kernel, bias = draw_operands(rng, shape, shape[1:], dtype)
    if where == "x":
        x = with_subnormals(rng, np.full_like(x, 0.0), dtype)
    else:
        kernel = with_subnormals(rng, np.full_like(kernel, 0.0), dtype)
    bias = with_subnormals(rng, np.zeros_like(bias), dtype)
    dy = rng.normal(size=shape).astype(numpy_dtype(dtype))
    ref_dtype = tf.float64 if dtype == tf.float16 else edge_reference_dtype(dtype)
    # Results that are subnormal themselves have a fixed absolute spacing:
    # their error is judged against the smallest normal number.
    smallest_normal = float(ml_dtypes.finfo(numpy_dtype(dtype)).smallest_normal)
    for reduce_axis in (None, -1):
        fused, expected, magnitudes = fused_and_reference(
            x,
            kernel,
            bias,
            dy if reduce_axis is None else dy[..., 0],
            dtype,
            case.activation,
            ref_dtype,
            reduce_axis=reduce_axis,
        )
        for name in fused:
            assert_close_at_scale(fused[name], expected[name], dtype, magnitudes[name] + smallest_normal, what=name)


# --- float16 saturation --------------------------------------------------


@pytest.mark.parametrize("reduce_axis,reduction", [(None, "sum"), (-1, "sum"), (-1, "mean")], ids=str)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_float16_results_beyond_its_range_saturate_as_in_the_reference(rng, case, reduce_axis, reduction):
    """Operands near the top of the float16 range: y and the gradients pass
    65504 and become +-Inf exactly where the reference's do (sums of Infs of
    both signs: NaN on both sides). bfloat16 has float32's range, so its
    saturation is float32 overflow: the large-|z| and NaN/Inf tests above."""
    shape = (3, 4, 9)
    sign = lambda size: rng.choice([-1.0, 1.0], size)
    x = rng.uniform(1e4, 65504.0, shape) * sign(shape)
    kernel = rng.uniform(0.5, 4.0, shape[1:]) * sign(shape[1:])
    bias = rng.uniform(0.0, 65504.0, shape[1:]) * sign(shape[1:])
    x, kernel, bias = (a.astype(np.float16) for a in (x, kernel, bias))
    reduce = dict(reduce_axis=reduce_axis, reduction=reduction)
    y_shape = spatial_ops.reference.spatial_dense(x, kernel, bias, **reduce).shape
    dy = rng.normal(size=y_shape).astype(np.float16)
    fused, expected, magnitudes = fused_and_reference(x, kernel, bias, dy, tf.float16, case.activation, **reduce)
    for name in fused:
        assert_close_at_scale(fused[name], expected[name], tf.float16, magnitudes[name], what=name)


def test_float16_overflow_gives_inf_and_z_is_formed_in_float32():
    """x * kernel beyond 65504 is Inf in float16; z = x * kernel + bias is
    formed in float32, so a bias that brings it back leaves it finite."""
    x = np.array([[60000.0, -60000.0, 60000.0]], np.float16)
    kernel = np.array([2.0, 2.0, 2.0], np.float16)
    bias = np.array([0.0, 0.0, -65000.0], np.float16)
    y = spatial_ops.spatial_dense(x, kernel, bias).numpy()
    np.testing.assert_array_equal(y, np.array([[np.inf, -np.inf, 55008.0]], np.float16))
