"""The three classes of the original write-up: same constructor arguments and
defaults, same shapes, and with the same weights the same values and
gradients as its plain-TensorFlow math (x * w + b, an activation, a sum)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import assert_close

pytestmark = pytest.mark.quick


def write_up_math(x, w, b, activation=None, sum_axis=None):
    """The write-up's computation, expressed directly."""
    y = x * w + b
    if activation is not None:
        y = keras.activations.get(activation)(y)
    return tf.reduce_sum(y, axis=sum_axis) if sum_axis is not None else y


CLASSES = [
    (spatial_ops.Custom2DDense, {}, {}),
    (spatial_ops.Custom2DDenseActivation, {}, {"activation": "relu"}),
    (spatial_ops.Custom2DDenseActivation, {"activation": "sigmoid"}, {"activation": "sigmoid"}),
    (spatial_ops.Custom2DDenseSummation, {}, {"sum_axis": -1}),
    (spatial_ops.Custom2DDenseSummation, {"sum_axis": 1}, {"sum_axis": 1}),
]


@pytest.mark.parametrize("cls,kwargs,math_kwargs", CLASSES, ids=str)
def test_values_and_gradients_match_the_write_up(rng, cls, kwargs, math_kwargs):
    layer = cls(3, 3, **kwargs)
    x = tf.constant(rng.normal(size=(8, 3, 3)).astype(np.float32))
    w, b = (rng.normal(size=(3, 3)).astype(np.float32) for _ in range(2))
    layer.set_weights([w, b])
    dy_shape = write_up_math(x, w, b, **math_kwargs).shape
    dy = tf.constant(rng.normal(size=dy_shape).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        got = layer(x)
        want = write_up_math(x, layer.w, layer.b, **math_kwargs)
    assert got.shape == want.shape
    assert_close(got, want, tf.float32)
    for g, e in zip(tape.gradient(got, [x, layer.w, layer.b], dy), tape.gradient(want, [x, layer.w, layer.b], dy)):
        assert_close(g, e, tf.float32)


@pytest.mark.parametrize(
    "cls", [spatial_ops.Custom2DDense, spatial_ops.Custom2DDenseActivation, spatial_ops.Custom2DDenseSummation]
)
def test_weights_exist_at_construction_with_the_write_up_defaults(cls):
    layer = cls(4, 5)
    assert [tuple(w.shape) for w in (layer.w, layer.b)] == [(4, 5), (4, 5)]
    assert isinstance(layer.kernel_initializer, keras.initializers.RandomNormal)
    np.testing.assert_array_equal(layer.b.numpy(), np.zeros((4, 5)))
    assert np.std(layer.w.numpy()) > 0  # random_normal, not ones


@pytest.mark.parametrize(
    "cls", [spatial_ops.Custom2DDense, spatial_ops.Custom2DDenseActivation, spatial_ops.Custom2DDenseSummation]
)
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3, 1)])
def test_non_3d_input_raises_the_write_up_error(cls, shape):
    with pytest.raises(ValueError, match=r"Input tensor must be 3D \(batch_size, height, width\)"):
        cls(3, 3)(np.zeros(shape, np.float32))


def test_default_arguments():
    assert spatial_ops.Custom2DDenseActivation(2, 2).activation is keras.activations.relu
    assert spatial_ops.Custom2DDenseSummation(2, 2).sum_axis == -1
    assert spatial_ops.Custom2DDenseSummation(2, 3)(np.zeros((5, 2, 3), np.float32)).shape == (5, 2)


def test_summing_over_the_batch_is_refused():
    with pytest.raises(ValueError, match="batch"):
        spatial_ops.Custom2DDenseSummation(3, 3, sum_axis=0)(np.zeros((2, 3, 3), np.float32))


@pytest.mark.parametrize("cls,kwargs", [(c, k) for c, k, _ in CLASSES], ids=str)
def test_config_round_trip(cls, kwargs):
    layer = cls(3, 4, **kwargs)
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
