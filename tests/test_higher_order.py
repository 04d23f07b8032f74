"""Second-order and forward-mode derivatives through the fused op: nested
tapes (gradient penalties), Hessian-vector products, ForwardAccumulator JVPs,
finite differences of the gradient, and TensorFlow's own choices at kinks."""

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.reference_checks import assert_close_at_scale
from helpers.support import ACTIVATIONS, assert_close, draw_operands

# TensorFlow registers no gradient for SoftsignGrad, so the reference has no
# second order for softsign: it is checked by finite differences only.
REFERENCE_SECOND_ORDER = [case for case in ACTIVATIONS if case.id != "softsign"]
REDUCTIONS = [(None, "sum"), (-1, "sum"), ((1, 2), "mean")]
FUNCTIONS = {"fused": spatial_ops.spatial_dense, "reference": spatial_ops.reference.spatial_dense}


def operands_for(rng, case, dtype, shape=(5, 3, 4), margin=1e-3):
    """The operands in dtype for the fused op and in float64 for the reference:
    second-order terms compound rounding, so the float32 reference is no
    ground truth for them."""
    x, kernel, bias = draw_operands(rng, shape, shape[1:], dtype, case.kinks, margin=margin)
    ref = np.float64
    return {
        "fused": [tf.constant(a) for a in (x, kernel, bias)],
        "reference": [tf.constant(a.astype(ref)) for a in (x, kernel, bias)],
    }


def gradient_penalty(fn, x, kernel, bias, **kwargs):
    """d/d(x, kernel, bias) of sum((d sum(y) / dx)^2), as WGAN-GP does."""
    with tf.GradientTape() as outer:
        outer.watch([x, kernel, bias])
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = fn(x, kernel, bias, **kwargs)
        penalty = tf.reduce_sum(inner.gradient(y, x) ** 2)
    return outer.gradient(penalty, [x, kernel, bias], unconnected_gradients=tf.UnconnectedGradients.ZERO)


@pytest.mark.parametrize("dtype", [tf.float64, tf.float32, tf.bfloat16, tf.float16], ids=lambda d: d.name)
@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS, ids=str)
@pytest.mark.parametrize("case", REFERENCE_SECOND_ORDER, ids=lambda c: c.id)
def test_gradient_penalty_matches_reference(rng, case, reduce_axis, reduction, dtype):
    operands = operands_for(rng, case, dtype)
    options = dict(activation=case.activation, reduce_axis=reduce_axis, reduction=reduction)
    got, want = (gradient_penalty(FUNCTIONS[k], *operands[k], **options) for k in FUNCTIONS)
    # The kernel and bias gradients sum one term per batch row, each rounded
    # to dtype by the TensorFlow ops between the passes: judge them at the
    # scale of those terms (their absolute values summed), not of a sum that
    # may cancel. For x, each element is one row's term alone.
    x, kernel, bias = operands["reference"]
    rows = [gradient_penalty(FUNCTIONS["reference"], x[i : i + 1], kernel, bias, **options) for i in range(x.shape[0])]
    scales = [tf.add_n([tf.abs(row[j]) for row in rows]) if j else 0.0 for j in range(3)]
    for name, g, w, scale in zip(("x", "kernel", "bias"), got, want, scales):
        # Rounded to dtype: where the exact value is beyond float16's range
        # (exponential's e^2z terms), Inf is the right answer.
        assert_close_at_scale(g, tf.cast(w, dtype), dtype, scale, what=f"d penalty / d {name}")


def hessian_vector_product(fn, x, kernel, bias, vx, vk, **kwargs):
    """H v for loss = sum(y^2) / 2 over (x, kernel), with v = (vx, vk)."""
    with tf.GradientTape() as outer:
        outer.watch([x, kernel])
        with tf.GradientTape() as inner:
            inner.watch([x, kernel])
            loss = tf.reduce_sum(fn(x, kernel, bias, **kwargs) ** 2) / 2
        gx, gk = inner.gradient(loss, [x, kernel])
        dot = tf.reduce_sum(gx * vx) + tf.reduce_sum(gk * vk)
    return outer.gradient(dot, [x, kernel], unconnected_gradients=tf.UnconnectedGradients.ZERO)


@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS, ids=str)
@pytest.mark.parametrize("case", REFERENCE_SECOND_ORDER, ids=lambda c: c.id)
def test_hessian_vector_products(rng, case, reduce_axis, reduction):
    operands = operands_for(rng, case, tf.float64)
    vx, vk = (tf.constant(rng.normal(size=t.shape)) for t in operands["fused"][:2])
    got, want = (
        hessian_vector_product(
            FUNCTIONS[k], *operands[k], vx, vk, activation=case.activation, reduce_axis=reduce_axis, reduction=reduction
        )
        for k in FUNCTIONS
    )
    for g, w in zip(got, want):
        assert_close(g, w, tf.float64)


@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS, ids=str)
@pytest.mark.parametrize("case", REFERENCE_SECOND_ORDER, ids=lambda c: c.id)
def test_forward_accumulator_jvp(rng, case, reduce_axis, reduction):
    operands = operands_for(rng, case, tf.float64)
    tangents = [tf.constant(rng.normal(size=t.shape)) for t in operands["fused"]]
    results = {}
    for key, fn in FUNCTIONS.items():
        with tf.autodiff.ForwardAccumulator(operands[key], tangents) as accumulator:
            y = fn(*operands[key], activation=case.activation, reduce_axis=reduce_axis, reduction=reduction)
        results[key] = accumulator.jvp(y)
    assert_close(results["fused"], results["reference"], tf.float64)


@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS, ids=str)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=lambda c: c.id)
def test_gradient_of_the_gradient_by_finite_differences(rng, case, reduce_axis, reduction):
    # Kinks at least 0.05 away: a 1e-4 step moves z by under 0.001. Central
    # differences err by step^2 / 6 times the third derivative: at TF's default
    # step, 1e-3, that reached the 1e-5 tolerance for about 1 draw in 150.
    x, kernel, bias = operands_for(rng, case, tf.float64, shape=(3, 2, 3), margin=0.05)["fused"]
    y_shape = spatial_ops.reference.spatial_dense(x, kernel, bias, reduce_axis=reduce_axis).shape
    dy = tf.constant(rng.normal(size=y_shape))

    def gradient(x, kernel, bias):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            y = spatial_ops.spatial_dense(
                x, kernel, bias, activation=case.activation, reduce_axis=reduce_axis, reduction=reduction
            )
        return tf.concat([tf.reshape(g, [-1]) for g in tape.gradient(y, [x, kernel, bias], dy)], 0)

    theoretical, numerical = tf.test.compute_gradient(gradient, [x, kernel, bias], delta=1e-4)
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(n).max()))


KINKED = [case for case in REFERENCE_SECOND_ORDER if case.kinks]


@pytest.mark.parametrize("case", KINKED, ids=lambda c: c.id)
def test_first_and_second_order_at_the_kinks_match_tensorflow(rng, case):
    """z = 0 * kernel + bias lands exactly on each kink."""
    kinks = np.array(case.kinks)
    bias = rng.choice(kinks, size=(4, 6))
    kernel = rng.normal(size=(4, 6))
    x = rng.normal(size=(3, 4, 6))
    x[:, :, ::2] = 0.0  # half the locations exactly on a kink
    operands = {k: [tf.constant(a) for a in (x, kernel, bias)] for k in FUNCTIONS}
    first, second = {}, {}
    for key, fn in FUNCTIONS.items():
        with tf.GradientTape() as tape:
            tape.watch(operands[key])
            y = fn(*operands[key], activation=case.activation)
        first[key] = tape.gradient(y, operands[key])
        second[key] = gradient_penalty(fn, *operands[key], activation=case.activation)
    # A different branch at a kink would be off by O(1), far beyond the tolerance.
    for got, want in zip(first["fused"] + second["fused"], first["reference"] + second["reference"]):
        assert_close(got, want, tf.float64)


def test_third_order_says_it_is_not_supported(rng):
    x, kernel, bias = (tf.constant(a) for a in draw_operands(rng, (2, 3), (3,), tf.float64))
    with tf.GradientTape() as t3:
        t3.watch(x)
        with tf.GradientTape() as t2:
            t2.watch(x)
            with tf.GradientTape() as t1:
                t1.watch(x)
                y = spatial_ops.spatial_dense(x, kernel, bias, activation="tanh")
            g1 = t1.gradient(y, x)
        g2 = t2.gradient(g1, x)
    with pytest.raises(NotImplementedError, match="second order"):
        t3.gradient(g2, x)
