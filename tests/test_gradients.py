"""The registered gradient (one fused backward op) against the reference's
tape, and against finite differences in float64."""

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import (
    ACTIVATION_IDS,
    ACTIVATIONS,
    DTYPES,
    REDUCTIONS_3D,
    assert_close,
    draw_operands,
    numpy_dtype,
    reference_dtype,
)

pytestmark = pytest.mark.quick


def gradients(fn, x, kernel, bias, dy, **kwargs):
    """(dx, dkernel, dbias) of fn at the operands, for upstream gradient dy."""
    operands = [tf.constant(a) for a in (x, kernel, bias) if a is not None]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        y = fn(*operands, **kwargs) if bias is not None else fn(*operands, None, **kwargs)
    return tape.gradient(y, operands, output_gradients=tf.constant(dy))


def check_gradients(rng, case_activation, kinks, x_shape, weight_shape, dtype, use_bias=True, **kwargs):
    x, kernel, bias = draw_operands(rng, x_shape, weight_shape, dtype, kinks, use_bias=use_bias)
    out_shape = spatial_ops.reference.spatial_dense(x, kernel, bias, activation=case_activation, **kwargs).shape
    dy = rng.normal(size=out_shape).astype(numpy_dtype(dtype))
    fused = gradients(spatial_ops.spatial_dense, x, kernel, bias, dy, activation=case_activation, **kwargs)
    ref_np = numpy_dtype(reference_dtype(dtype))
    as_ref = lambda a: None if a is None else a.astype(ref_np)
    expected = gradients(
        spatial_ops.reference.spatial_dense,
        as_ref(x),
        as_ref(kernel),
        as_ref(bias),
        dy.astype(ref_np),
        activation=case_activation,
        **kwargs,
    )
    for name, got, want in zip(("dx", "dkernel", "dbias"), fused, expected):
        assert got.dtype == dtype, name
        assert_close(got, want, dtype, what=name)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_3D, ids=str)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_every_activation_reduction_dtype(rng, case, reduce_axis, reduction, dtype):
    check_gradients(
        rng, case.activation, case.kinks, (8, 5, 7), (5, 7), dtype, reduce_axis=reduce_axis, reduction=reduction
    )


@pytest.mark.sanitized
@pytest.mark.parametrize(
    "x_shape,weight_shape,reduce_axis",
    [
        ((6, 5, 7), (7,), None),
        ((6, 5, 7), (5, 1), -1),
        ((6, 5, 7), (), 1),
        ((2, 4, 5, 3), (4, 5, 1), (1, 2)),
        ((3, 4, 5, 6), (4, 5, 6), (1, 3)),
        ((0, 5, 7), (5, 7), -1),
        ((300, 3, 3), (3, 3), None),  # several batch blocks in the dkernel sum
        ((4, 5000), (5000,), -1),  # several spatial blocks, reduced
    ],
    ids=str,
)
@pytest.mark.parametrize("use_bias", [True, False])
def test_shapes_and_broadcast_weights(rng, x_shape, weight_shape, reduce_axis, use_bias):
    check_gradients(
        rng, "silu", (), x_shape, weight_shape, tf.float64, use_bias=use_bias, reduce_axis=reduce_axis, reduction="mean"
    )


@pytest.mark.sanitized
def test_empty_batch_gives_zero_weight_gradients(rng):
    x, kernel, bias = draw_operands(rng, (0, 3, 4), (3, 4), tf.float32)
    dkernel, dbias = gradients(
        lambda x, k, b: spatial_ops.spatial_dense(x, k, b, activation="tanh"),
        x,
        kernel,
        bias,
        np.zeros((0, 3, 4), np.float32),
    )[1:]
    np.testing.assert_array_equal(dkernel.numpy(), np.zeros((3, 4)))
    np.testing.assert_array_equal(dbias.numpy(), np.zeros((3, 4)))


@pytest.mark.parametrize("reduce_axis,reduction", [(None, "sum"), (-1, "mean"), ((1, 2), "sum")], ids=str)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_finite_differences_float64(rng, case, reduce_axis, reduction):
    # Kinks at least 0.05 away: a 1e-3 step moves z by under 0.01.
    x, kernel, bias = draw_operands(rng, (3, 2, 3), (2, 3), tf.float64, case.kinks, margin=0.05)
    fn = lambda x, k, b: spatial_ops.spatial_dense(
        x, k, b, activation=case.activation, reduce_axis=reduce_axis, reduction=reduction
    )
    theoretical, numerical = tf.test.compute_gradient(fn, [x, kernel, bias])
    for t, n in zip(theoretical, numerical):
        np.testing.assert_allclose(t, n, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(n).max()))


def test_keras_variables_are_differentiable(rng):
    x, kernel, bias = draw_operands(rng, (4, 3, 5), (3, 5), tf.float32)
    k, b = tf.Variable(kernel), tf.Variable(bias)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(spatial_ops.spatial_dense(x, k, b, activation="relu") ** 2)
    dk, db = tape.gradient(loss, [k, b])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(spatial_ops.reference.spatial_dense(x, k, b, activation="relu") ** 2)
    ek, eb = tape.gradient(loss, [k, b])
    assert_close(dk, ek, tf.float32)
    assert_close(db, eb, tf.float32)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16], ids=lambda d: d.name)
def test_half_gradients_of_broadcast_weights_are_summed_in_float32(rng, dtype):
    """dkernel and dbias of weights shared over 737 locations, every term
    positive: a sum that half precision alone gets wrong by about a percent."""
    half = numpy_dtype(dtype)
    x = rng.uniform(0.5, 1.5, (1, 67, 11, 2)).astype(half)
    kernel, bias = (rng.uniform(0.5, 1.5, (2,)).astype(half) for _ in range(2))
    dy = rng.uniform(0.5, 1.5, (1, 11, 2)).astype(half)
    fused = gradients(spatial_ops.spatial_dense, x, kernel, bias, dy, activation="relu", reduce_axis=1)
    as64 = lambda a: a.astype(np.float64)
    expected = gradients(
        spatial_ops.reference.spatial_dense,
        as64(x),
        as64(kernel),
        as64(bias),
        as64(dy),
        activation="relu",
        reduce_axis=1,
    )
    for name, got, want in zip(("dkernel", "dbias"), fused[1:], expected[1:]):
        assert_close(got, want, dtype, what=name)
