"""Fused forward against the reference: every activation x reduction x dtype,
and shapes that stress the canonical view."""

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import (
    ACTIVATION_IDS,
    ACTIVATIONS,
    DTYPES,
    REDUCTIONS_3D,
    REDUCTIONS_4D,
    TOLERANCES,
    assert_close,
    both,
    draw_operands,
)

pytestmark = pytest.mark.quick


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_3D, ids=str)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_every_activation_reduction_dtype(rng, case, reduce_axis, reduction, dtype):
    x, kernel, bias = draw_operands(rng, (8, 5, 7), (5, 7), dtype, case.kinks)
    fused, expected = both(
        x, kernel, bias, dtype, activation=case.activation, reduce_axis=reduce_axis, reduction=reduction
    )
    assert fused.dtype == dtype
    assert_close(fused, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_4D, ids=str)
@pytest.mark.parametrize("activation", [None, "gelu", "hard_silu"])
def test_several_reduced_axes(rng, activation, reduce_axis, reduction, dtype):
    x, kernel, bias = draw_operands(rng, (3, 4, 5, 6), (4, 5, 6), dtype, (-3.0, 3.0))
    fused, expected = both(x, kernel, bias, dtype, activation=activation, reduce_axis=reduce_axis, reduction=reduction)
    assert_close(fused, expected, dtype)


SHAPES = [
    (8, 3, 3),  # the write-up's example
    (1, 7),  # 1-D spatial
    (5, 13, 17),  # primes
    (2, 3, 5, 7),  # 3-D spatial
    (2, 2, 3, 2, 5),  # 4-D spatial
    (3, 1, 1),
    (0, 5, 5),  # empty batch
    (4, 0, 3),  # empty spatial axis
    (3, 4099),  # more than one spatial block, odd size
    (2, 67, 129),  # reduced runs that cross spatial blocks
]


@pytest.mark.sanitized
@pytest.mark.parametrize("dtype", [tf.float32, tf.float16], ids=lambda d: d.name)
@pytest.mark.parametrize("reduce", ["none", "first", "last", "all"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_shapes(rng, shape, reduce, dtype):
    rank = len(shape)
    reduce_axis = {"none": None, "first": 1, "last": -1, "all": tuple(range(1, rank))}[reduce]
    x, kernel, bias = draw_operands(rng, shape, shape[1:], dtype)
    # tanh's terms have both signs, so a sum of thousands can cancel far
    # below the terms' own scale, on which the two float32 sums round.
    terms = np.abs(np.tanh(x * kernel + bias))
    for reduction in ("sum", "mean"):
        fused, expected = both(x, kernel, bias, dtype, activation="tanh", reduce_axis=reduce_axis, reduction=reduction)
        assert fused.shape == expected.shape
        magnitude = None
        if reduce_axis is not None:
            magnitude = np.sum(terms, axis=reduce_axis)
            if reduction == "mean":  # an empty run's mean is NaN in both, and left out
                magnitude = magnitude / np.maximum(np.sum(np.ones_like(terms), axis=reduce_axis), 1)
        assert_close(fused, expected, dtype, magnitude=magnitude)


@pytest.mark.sanitized
@pytest.mark.parametrize("weight_shape", [(), (7,), (1, 7), (5, 1), (5, 7), (1, 1)], ids=str)
@pytest.mark.parametrize("use_bias", [True, False])
def test_broadcast_weights_and_no_bias(rng, weight_shape, use_bias):
    x, kernel, bias = draw_operands(rng, (6, 5, 7), weight_shape, tf.float64, use_bias=use_bias)
    for reduce_axis in (None, 1, -1):
        fused, expected = both(x, kernel, bias, tf.float64, activation="softplus", reduce_axis=reduce_axis)
        assert_close(fused, expected, tf.float64)


def test_weights_shared_over_channels(rng):
    x, kernel, bias = draw_operands(rng, (2, 4, 5, 3), (4, 5, 1), tf.float32)
    fused, expected = both(x, kernel, bias, tf.float32, activation="mish", reduce_axis=(1, 2))
    assert_close(fused, expected, tf.float32)


def test_unfused_callables_are_applied_after_the_affine_op(rng):
    x, kernel, bias = draw_operands(rng, (4, 3, 6), (3, 6), tf.float32)
    for activation in ("softmax", lambda z: z * z - 1.0):
        for reduce_axis in (None, -1):
            fused, expected = both(x, kernel, bias, tf.float32, activation=activation, reduce_axis=reduce_axis)
            assert_close(fused, expected, tf.float32)


def test_inside_tf_function_with_unknown_batch(rng):
    x, kernel, bias = draw_operands(rng, (5, 4, 6), (4, 6), tf.float32)
    fn = tf.function(
        lambda x: spatial_ops.spatial_dense(x, kernel, bias, activation="elu", reduce_axis=-1),
        input_signature=[tf.TensorSpec([None, 4, 6], tf.float32)],
    )
    assert fn.get_concrete_function().structured_outputs.shape.as_list() == [None, 4]
    expected = spatial_ops.reference.spatial_dense(x, kernel, bias, activation="elu", reduce_axis=-1)
    assert_close(fn(x), expected, tf.float32)


def test_inside_tf_function_with_unknown_spatial_dims(rng):
    x, kernel, bias = draw_operands(rng, (3, 4, 6), (6,), tf.float64)
    fn = tf.function(
        lambda x: spatial_ops.spatial_dense(x, kernel, bias, activation="sigmoid", reduce_axis=1, reduction="mean"),
        input_signature=[tf.TensorSpec([None, None, None], tf.float64)],
    )
    expected = spatial_ops.reference.spatial_dense(
        x, kernel, bias, activation="sigmoid", reduce_axis=1, reduction="mean"
    )
    assert_close(fn(x), expected, tf.float64)


def test_pure_python_inputs_take_x_dtype():
    y = spatial_ops.spatial_dense(np.ones((2, 3), np.float64), [1.0, 2.0, 3.0], 0.5)
    np.testing.assert_array_equal(y.numpy(), [[1.5, 2.5, 3.5]] * 2)
    assert y.dtype == tf.float64


@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_nan_and_inf_propagate_as_in_the_reference(rng, case):
    x = np.array([[np.nan, np.inf, -np.inf, 0.0, 1.0, -1.0, 1e30, -1e30]], np.float32)
    kernel = np.ones(x.shape[1:], np.float32)
    fused = spatial_ops.spatial_dense(x, kernel, activation=case.activation).numpy()
    expected = spatial_ops.reference.spatial_dense(x, kernel, activation=case.activation).numpy()
    np.testing.assert_array_equal(np.isnan(fused), np.isnan(expected))
    infinite = np.isinf(expected)
    np.testing.assert_array_equal(fused[infinite], expected[infinite])
    finite = np.isfinite(expected)
    # Elementwise relative: these values span 1e-30 to 1e30, no common scale.
    np.testing.assert_allclose(fused[finite], expected[finite], rtol=TOLERANCES[tf.float32], atol=1e-30)
