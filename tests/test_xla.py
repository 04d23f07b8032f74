"""XLA: the op and layer run as TensorFlow composites wherever XLA compiles
them, with the fused op's results and gradients; Keras' jit_compile="auto"
keeps the fused kernels."""

import numpy as np
import pytest
import keras
import tensorflow as tf

import spatial_ops
from helpers.support import assert_close, draw_operands


def _graph_op_types(concrete_function):
    types = set()
    graphs = [concrete_function.graph]
    while graphs:
        graph = graphs.pop()
        types.update(op.type for op in graph.get_operations())
        graphs.extend(f.graph for f in graph._functions.values() if hasattr(f, "graph"))
    return types


@pytest.mark.parametrize("activation, reduce_axis", [("gelu", None), ("softplus", -1), ("relu", (1, 2))])
def test_jit_compiled_function_runs_the_composite_with_the_same_results(rng, activation, reduce_axis):
    x, kernel, bias = map(tf.constant, draw_operands(rng, (6, 5, 7), (5, 7), tf.float32))

    def forward_and_gradients(x, kernel, bias):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            y = spatial_ops.spatial_dense(x, kernel, bias, activation=activation,
                                          reduce_axis=reduce_axis)
            loss = tf.reduce_sum(y * tf.cos(y))
        return [y, *tape.gradient(loss, [x, kernel, bias])]

    jitted = tf.function(forward_and_gradients, jit_compile=True)
    assert not any(t.startswith("SpatialOps") for t in
                   _graph_op_types(jitted.get_concrete_function(x, kernel, bias)))
    assert "SpatialOps>SpatialDense" in _graph_op_types(
        tf.function(forward_and_gradients).get_concrete_function(x, kernel, bias))
    for got, expected, what in zip(jitted(x, kernel, bias), forward_and_gradients(x, kernel, bias),
                                   ("y", "dx", "dkernel", "dbias")):
        assert_close(got, expected, tf.float32, what)


def _model(fused, seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((6, 5)),
        spatial_ops.SpatialDense(activation="tanh", kernel_initializer="random_normal", fused=fused),
        spatial_ops.SpatialDense(reduce_axis=-1, reduction="mean", fused=fused),
        keras.layers.Dense(1),
    ])


def test_model_compiled_with_jit_trains_like_the_fused_model(rng):
    x = rng.normal(size=(64, 6, 5)).astype(np.float32)
    y = rng.normal(size=(64, 1)).astype(np.float32)
    seed = int(rng.integers(2**31))
    trained = {}
    for jit_compile in (True, False):
        model = _model("auto", seed)
        model.compile(keras.optimizers.SGD(0.05), "mse", jit_compile=jit_compile)
        assert model.jit_compile is jit_compile
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        trained[jit_compile] = model.get_weights()
    for with_xla, fused in zip(trained[True], trained[False]):
        assert_close(with_xla, fused, tf.float32, "weights after training")


@pytest.fixture
def machine_with_a_gpu(monkeypatch):
    """Keras resolves jit_compile="auto" to XLA only where a GPU is listed."""
    listed = tf.config.list_physical_devices()
    gpu = tf.config.PhysicalDevice(name="/physical_device:GPU:0", device_type="GPU")
    monkeypatch.setattr(tf.config, "list_physical_devices",
                        lambda device_type=None: listed + [gpu] if device_type in (None, "GPU") else listed)


@pytest.mark.parametrize("fused, expect_xla", [("auto", False), (True, False), (False, True)])
def test_auto_jit_compile_keeps_the_fused_kernels(machine_with_a_gpu, fused, expect_xla):
    model = _model(fused, 0)
    model.compile("sgd", "mse")  # jit_compile="auto"
    assert model.jit_compile is expect_xla


def test_fused_true_refuses_xla():
    layer = spatial_ops.SpatialDense(fused=True, name="forced")
    x = tf.ones((2, 3, 4))
    layer(x)
    with pytest.raises(ValueError, match="'forced' has fused=True.*XLA"):
        tf.function(layer, jit_compile=True)(x)


def test_fused_must_be_auto_true_or_false():
    with pytest.raises(ValueError, match='fused must be "auto", True or False, got 1'):
        spatial_ops.SpatialDense(fused=1)
