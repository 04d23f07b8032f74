"""SpatialDense as a Keras 3 layer: build, config, training, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import assert_close, draw_operands

pytestmark = pytest.mark.quick


def test_build_creates_weights_of_the_spatial_shape():
    layer = spatial_ops.SpatialDense(activation="gelu")
    y = layer(np.zeros((2, 4, 5), np.float32))
    assert [w.shape for w in layer.weights] == [(4, 5), (4, 5)]
    assert [w.name for w in layer.weights] == ["kernel", "bias"]
    assert y.shape == (2, 4, 5)


def test_call_matches_reference(rng):
    x, kernel, bias = draw_operands(rng, (3, 4, 5, 2), (4, 5, 1), tf.float32)
    layer = spatial_ops.SpatialDense(activation="elu", reduce_axis=(1, 2), reduction="mean", weight_shape=(4, 5, 1))
    layer.build(x.shape)
    layer.set_weights([kernel, bias])
    expected = spatial_ops.reference.spatial_dense(
        x, kernel, bias, activation="elu", reduce_axis=(1, 2), reduction="mean"
    )
    assert_close(layer(x), expected, tf.float32)
    assert layer.compute_output_shape((None, 4, 5, 2)) == (None, 2)


def test_no_bias_and_initializers():
    layer = spatial_ops.SpatialDense(use_bias=False, kernel_initializer="zeros")
    layer.build((None, 3))
    assert layer.bias is None and len(layer.weights) == 1
    np.testing.assert_array_equal(layer(np.ones((2, 3), np.float32)).numpy(), np.zeros((2, 3)))


def test_regularizers_and_constraints():
    layer = spatial_ops.SpatialDense(
        kernel_regularizer=keras.regularizers.L2(0.5),
        bias_regularizer="l1",
        activity_regularizer="l2",
        kernel_constraint=keras.constraints.NonNeg(),
    )
    layer(np.ones((2, 3, 3), np.float32))
    losses = sorted(float(loss) for loss in layer.losses)
    # bias l1 (zeros): 0; activity l2 of y = ones: 0.01 * 18 / 2 per sample; kernel l2: 0.5 * 9.
    np.testing.assert_allclose(losses, [0.0, 0.09, 4.5], rtol=1e-6)
    layer.kernel.assign(-np.ones((3, 3), np.float32))
    assert float(tf.reduce_min(layer.kernel_constraint(layer.kernel))) == 0.0


def test_symbolic_functional_model_with_none_batch():
    inputs = keras.Input((6, 7))
    outputs = spatial_ops.SpatialDense(activation="relu", reduce_axis=-1)(inputs)
    model = keras.Model(inputs, outputs)
    assert model.output_shape == (None, 6)
    assert model(np.ones((3, 6, 7), np.float32)).shape == (3, 6)


def test_get_config_round_trip():
    layer = spatial_ops.SpatialDense(
        activation=spatial_ops.Activation("leaky_relu", negative_slope=0.1),
        reduce_axis=[1, 2],
        reduction="mean",
        weight_shape=(4, 1),
        kernel_regularizer="l2",
        name="sd",
    )
    clone = spatial_ops.SpatialDense.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    assert clone.reduce_axis == (1, 2)
    x = np.random.default_rng().normal(size=(2, 4, 3)).astype(np.float32)
    layer.build(x.shape), clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())


def _model(activation="gelu", reduce_axis=-1):
    return keras.Sequential(
        [
            keras.Input((8, 8)),
            spatial_ops.SpatialDense(activation=activation, kernel_initializer="random_normal"),
            spatial_ops.SpatialDense(reduce_axis=reduce_axis, reduction="mean"),
            keras.layers.Dense(1),
        ]
    )


def test_fit_lowers_the_loss(rng):
    x = rng.normal(size=(256, 8, 8)).astype(np.float32)
    y = (x[:, :4, :].mean(axis=(1, 2)) > 0).astype(np.float32)[:, None]
    model = _model()
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="mse")
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.7 * first


def test_save_and_load_keras_file(rng, tmp_path):
    model = _model(activation=spatial_ops.Activation("elu", alpha=0.5))
    x = rng.normal(size=(4, 8, 8)).astype(np.float32)
    expected = model(x).numpy()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded(x).numpy(), expected)
    assert isinstance(loaded.layers[0].activation, spatial_ops.Activation)


def test_trainable_false_freezes_weights(rng):
    layer = spatial_ops.SpatialDense(trainable=False)
    model = keras.Sequential([keras.Input((3, 3)), layer, keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(rng.normal(size=(8, 3, 3)), rng.normal(size=(8, 1)), verbose=0)
    np.testing.assert_array_equal(layer.kernel.numpy(), np.ones((3, 3)))
    assert layer.trainable_weights == []


def test_float64_layer(rng):
    layer = spatial_ops.SpatialDense(activation="tanh", dtype="float64")
    x = rng.normal(size=(2, 3, 4))
    y = layer(x)
    assert y.dtype == tf.float64
    assert_close(y, np.tanh(x + 0.0), tf.float64)


def test_unknown_activation_is_refused_at_construction():
    with pytest.raises(ValueError, match="activation"):
        spatial_ops.SpatialDense(activation="no_such_activation")


def test_summary_lists_the_layer_shapes_and_parameters():
    model = keras.Sequential(
        [
            keras.Input((6, 7)),
            spatial_ops.SpatialDense(activation="gelu", name="spatial"),
            spatial_ops.SpatialDense(use_bias=False, reduce_axis=-1, name="pool"),
        ]
    )
    lines = []
    model.summary(print_fn=lambda line, **_: lines.append(line))
    text = "\n".join(lines)
    assert "spatial (SpatialDense)" in text and "(None, 6, 7)" in text and "84" in text
    assert "pool (SpatialDense)" in text and "(None, 6)" in text and "42" in text
    assert model.count_params() == 84 + 42


def test_mask_passes_through_elementwise_layers_only():
    x = np.ones((2, 3, 4), np.float32)
    mask = tf.constant([[True, True, False], [True, False, False]])
    assert spatial_ops.SpatialDense().compute_mask(x, mask) is mask
    assert spatial_ops.SpatialDense(reduce_axis=-1).compute_mask(x, mask) is None
