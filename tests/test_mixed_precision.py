"""Keras mixed precision: float32 variables, the layer computing in the
policy's half type, gradients and LossScaleOptimizer training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import assert_close, draw_operands

POLICIES = {"mixed_float16": tf.float16, "mixed_bfloat16": tf.bfloat16}


@pytest.fixture(params=sorted(POLICIES))
def policy(request):
    keras.mixed_precision.set_global_policy(request.param)
    yield request.param
    keras.mixed_precision.set_global_policy("float32")


def _layer_with(kernel, bias, **kwargs):
    """A layer whose float32 variables hold values exact in the half type."""
    layer = spatial_ops.SpatialDense(**kwargs)
    layer.build((None, *kernel.shape))
    layer.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return layer


@pytest.mark.parametrize("activation, reduce_axis", [("gelu", None), ("silu", -1), ("elu", (1, 2))])
def test_layer_computes_in_the_half_type_with_float32_variables(rng, policy, activation, reduce_axis):
    half = POLICIES[policy]
    x, kernel, bias = draw_operands(rng, (5, 6, 7), (6, 7), half)
    layer = _layer_with(kernel, bias, activation=activation, reduce_axis=reduce_axis)
    assert layer.kernel.dtype == "float32" and layer.bias.dtype == "float32"
    as64 = lambda a: tf.constant(a.astype(np.float64))
    dy = tf.constant(rng.normal(size=layer.compute_output_shape(x.shape)), tf.float64)
    with tf.GradientTape() as tape:
        y = layer(x.astype(np.float32))  # Keras casts the input to the policy's type
        loss = tf.reduce_sum(tf.cast(y, tf.float64) * dy)
    grads = tape.gradient(loss, [layer.kernel, layer.bias])
    assert y.dtype == half
    operands = [as64(a) for a in (x, kernel, bias)]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        expected = spatial_ops.reference.spatial_dense(*operands, activation=activation, reduce_axis=reduce_axis)
        expected_loss = tf.reduce_sum(expected * dy)
    expected_grads = tape.gradient(expected_loss, operands[1:])
    assert_close(y, expected, half, "y")
    for name, got, want in zip(("dkernel", "dbias"), grads, expected_grads):
        assert got.dtype == tf.float32, name
        assert_close(got, want, half, name)


def _model(fused):
    keras.utils.set_random_seed(7)
    return keras.Sequential(
        [
            keras.Input((8, 6)),
            spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal", fused=fused),
            spatial_ops.SpatialDense(reduce_axis=-1, reduction="mean", fused=fused),
            keras.layers.Dense(1, dtype="float32"),  # the loss in float32, as Keras advises
        ]
    )


def test_training_with_the_policy_matches_the_composite_layers(rng, policy):
    x = rng.normal(size=(128, 8, 6)).astype(np.float32)
    y = (x[:, :4].mean(axis=(1, 2)) > 0).astype(np.float32)[:, None]
    results = {}
    for fused in ("auto", False):
        model = _model(fused)
        model.compile(keras.optimizers.SGD(0.05), "mse")
        if policy == "mixed_float16":
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        first = model.evaluate(x, y, verbose=0)
        model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
        assert model.evaluate(x, y, verbose=0) < first
        assert [w.dtype for layer in model.layers[:2] for w in layer.weights] == ["float32"] * 4
        results[fused] = model.get_weights()
    for fused, composite in zip(results["auto"], results[False]):
        assert_close(fused, composite, POLICIES[policy], "weights after training")
