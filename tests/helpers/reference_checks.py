"""Comparisons with the reference that support.assert_close alone cannot
judge: results that add terms up (a reduced y, weight gradients summed over
the batch and broadcast axes), values compared element by element at a
stated scale, and half-type results that overflow. Every bound is one of the
per-dtype TOLERANCES times a scale."""

import numpy as np
import tensorflow as tf

import spatial_ops
from helpers.support import HALF_DTYPES, TOLERANCES
from spatial_ops.activations import resolve


def rounded_to(dtype, expected):
    """The float64 reference of a half-type call rounded to that type, so a
    value beyond its range is Inf on both sides (the kernels round once)."""
    if dtype in HALF_DTYPES:
        return tf.cast(tf.cast(expected, dtype), tf.float64)
    return expected


def assert_close_at_scale(actual, expected, dtype, scale, what="result"):
    """|actual - expected| <= tol * (|expected| + rms(expected) + scale)
    elementwise where expected is finite, and the same Inf/NaN pattern.
    scale (a number or an array like expected) is what the error of each
    element is judged against besides its own size: the sum of the absolute
    terms of a sum, or 1 for values of order one."""
    return _assert_close(actual, expected, dtype, scale, what, use_rms=True)


def assert_close_elementwise(actual, expected, dtype, scale, what="result"):
    """assert_close_at_scale without the tensor's rms: each element judged on
    its own, for values of unrelated magnitudes side by side."""
    return _assert_close(actual, expected, dtype, scale, what, use_rms=False)


def _assert_close(actual, expected, dtype, scale, what, use_rms):
    actual, expected = (np.asarray(tf.cast(a, tf.float64)) for a in (actual, expected))
    scale = np.broadcast_to(np.asarray(tf.cast(scale, tf.float64)), expected.shape)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaN pattern")
    infinite = np.isinf(expected)
    np.testing.assert_array_equal(actual[infinite], expected[infinite], err_msg=f"{what}: Inf")
    finite = np.isfinite(expected)
    if not finite.any():
        return
    rms = float(np.sqrt(np.mean(expected[finite] ** 2))) if use_rms else 0.0
    allowed = TOLERANCES[dtype] * (np.abs(expected) + rms + scale)
    error = np.where(finite, np.abs(np.where(finite, actual, 0.0) - np.where(finite, expected, 0.0)), 0.0)
    bad = finite & ~(error <= allowed)
    assert not bad.any(), (
        f"{what} ({dtype.name}): {bad.sum()} of {bad.size} elements beyond tolerance; first at "
        f"{tuple(np.argwhere(bad)[0])}: {actual[bad][0]!r} vs {expected[bad][0]!r} "
        f"(allowed error {allowed[bad][0]:.3g})"
    )


def forward_and_gradients(fn, x, kernel, bias, dy, **kwargs):
    """fn(x, kernel, bias) and its gradients (dx, dkernel[, dbias]) for
    upstream gradient dy; bias may be None."""
    tensors = [tf.constant(a) for a in (x, kernel, bias) if a is not None]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        y = fn(*tensors, **kwargs) if bias is not None else fn(*tensors, None, **kwargs)
    return y, tape.gradient(y, tensors, output_gradients=tf.constant(dy))


def _summed_to(terms, shape):
    """terms (x's shape) summed over the batch and the axes where a weight of
    this shape is broadcast."""
    terms = tf.reduce_sum(terms, axis=0)
    lead = terms.shape.rank - len(shape)
    axes = list(range(lead)) + [lead + i for i, size in enumerate(shape) if size == 1]
    return tf.reshape(tf.reduce_sum(terms, axis=axes), shape)


def term_magnitudes(x, kernel, bias, dy, activation, **reduce):
    """Reference math for the sums of absolute terms behind each result:
    |act(z)| reduced like y, |dz x| and |dz| summed like dkernel and dbias
    (dx adds nothing up: 0). Keys y, dx, dkernel, dbias (without bias: no dbias)."""
    act = resolve(activation).fn
    z = tf.constant(x) * kernel + (0.0 if bias is None else bias)
    one = tf.ones([], z.dtype)
    with tf.GradientTape() as tape:
        tape.watch(z)
        y = spatial_ops.reference.spatial_dense(z, one, activation=act, **reduce)
    dz = tape.gradient(y, z, output_gradients=tf.constant(dy))
    magnitudes = {
        "y": spatial_ops.reference.spatial_dense(z, one, activation=lambda v: tf.abs(act(v)), **reduce),
        "dx": tf.zeros_like(z),
        "dkernel": _summed_to(tf.abs(dz * x), np.shape(kernel)),
    }
    if bias is not None:
        magnitudes["dbias"] = _summed_to(tf.abs(dz), np.shape(bias))
    return magnitudes
