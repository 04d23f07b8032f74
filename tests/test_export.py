"""Deploying without spatial_ops: spatial_ops.export (and the portable()
context under it) writes models whose spatial_ops layers are plain ops, and
each export runs in a fresh process that never imports spatial_ops (TF's
SavedModel loader, the LiteRT interpreter with builtin kernels only, ONNX
Runtime) with the fused model's outputs, within the per-dtype tolerances.

One model per test holds a branch for every catalogue activation, the
reductions, broadcast weights and the seed-compatible classes, so that each
format is exported and converted once."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.processes import env_with_another_keras_backend, run_python
from helpers.support import assert_close
from spatial_ops.testing.activation_catalogue import CATALOGUE

HEIGHT, WIDTH = 8, 6
EXTENSIONS = {"tf_saved_model": "", "litert": ".tflite", "onnx": ".onnx"}
RUN_EXPORT = "from helpers.runtimes import main; main()"


def _random_layer(**kwargs):
    """Weights of order 1 (Keras' random_normal draws 0.05): with z that
    small, x - tanh(x) and the like are all cancellation in float32, in
    every composite, and the comparison would measure nothing else."""
    return spatial_ops.SpatialDense(
        kernel_initializer=keras.initializers.RandomNormal(0.0, 1.0),
        bias_initializer=keras.initializers.RandomNormal(0.0, 0.6),
        **kwargs,
    )


def _branches(inputs, activations, gelu):
    """(name, output) per case: each activation unreduced, then reductions,
    broadcast weights, no bias, and the seed-compatible classes (with gelu,
    the form of gelu they use)."""
    branches = [(name, _random_layer(activation=activation)(inputs)) for name, activation in activations]
    channels = keras.layers.Reshape((HEIGHT, WIDTH // 2, 2))(inputs)
    branches += [
        ("sum over the last axis", _random_layer(activation=gelu, reduce_axis=-1)(inputs)),
        ("mean over both axes", _random_layer(activation="tanh", reduce_axis=(1, 2), reduction="mean")(inputs)),
        ("weight shared over rows", _random_layer(activation="elu", weight_shape=(1, WIDTH))(inputs)),
        (
            "weight shared over channels",
            _random_layer(activation="silu", weight_shape=(HEIGHT, WIDTH // 2, 1), reduce_axis=(1, 3))(channels),
        ),
        ("no bias", _random_layer(activation="softplus", use_bias=False)(inputs)),
        ("Custom2DDense", spatial_ops.Custom2DDense(HEIGHT, WIDTH)(inputs)),
        ("Custom2DDenseActivation", spatial_ops.Custom2DDenseActivation(HEIGHT, WIDTH, activation=gelu)(inputs)),
        ("Custom2DDenseSummation", spatial_ops.Custom2DDenseSummation(HEIGHT, WIDTH, sum_axis=-1)(inputs)),
    ]
    return branches


def _model(activations, gelu="gelu"):
    """A model whose one output is every branch flattened and concatenated
    (one output, which every runtime orders the same), and the branches'
    names and widths to split it back."""
    inputs = keras.Input((HEIGHT, WIDTH))
    names, outputs = zip(*_branches(inputs, activations, gelu))
    flat = [keras.layers.Reshape((-1,))(output) for output in outputs]
    widths = [int(np.prod(output.shape[1:])) for output in outputs]
    return keras.Model(inputs, keras.layers.Concatenate()(flat)), list(zip(names, widths))


def _catalogue_activations():
    return [(case.id, case.user_form(spatial_ops.Activation)) for case in CATALOGUE]


def _assert_branches_close(actual, expected, branches, dtype):
    assert actual.shape == expected.shape, f"output shape {actual.shape} != {expected.shape}"
    start = 0
    for name, width in branches:
        assert_close(actual[:, start : start + width], expected[:, start : start + width], dtype, what=name)
        start += width


def _run_in_runtime(export_format, path, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    run_python(RUN_EXPORT, export_format, path, tmp_path / "x.npy", tmp_path / "y.npy", timeout=300)
    return np.load(tmp_path / "y.npy")


@pytest.mark.parametrize("export_format", ["tf_saved_model", "litert", "onnx"])
def test_a_portable_export_runs_without_spatial_ops(rng, tmp_path, export_format):
    model, branches = _model(_catalogue_activations())
    x = rng.normal(0.0, 1.5, (5, HEIGHT, WIDTH)).astype(np.float32)
    fused = model(x).numpy()
    path = str(tmp_path / f"model{EXTENSIONS[export_format]}")
    spatial_ops.export(model, path, format=export_format, verbose=False)
    if export_format == "tf_saved_model":
        assert spatial_ops.exporting.fused_ops_in_saved_model(path) == []
    _assert_branches_close(_run_in_runtime(export_format, path, x, tmp_path), fused, branches, tf.float32)


def _mixed_precision_model():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        return _model([("gelu", "gelu"), ("relu", "relu"), ("sigmoid", "sigmoid")])
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize("export_format", ["tf_saved_model", "onnx"])
def test_a_mixed_precision_model_exports_in_float16(rng, tmp_path, export_format):
    model, branches = _mixed_precision_model()
    x = rng.normal(0.0, 1.5, (5, HEIGHT, WIDTH)).astype(np.float32)
    fused = model(x).numpy()
    assert fused.dtype == np.float16
    path = str(tmp_path / f"model{EXTENSIONS[export_format]}")
    spatial_ops.export(model, path, format=export_format, verbose=False)
    served = _run_in_runtime(export_format, path, x, tmp_path)
    assert served.dtype == np.float16
    _assert_branches_close(served, fused, branches, tf.float16)


def test_litert_with_float16_weights(rng, tmp_path):
    """LiteRT's builtin kernels compute in float32: its float16 form is a
    float32 model with float16 weights, which the converter writes."""
    model, branches = _model([("gelu", "gelu"), ("relu", "relu"), ("sigmoid", "sigmoid")])
    x = rng.normal(0.0, 1.5, (5, HEIGHT, WIDTH)).astype(np.float32)
    fused = model(x).numpy()
    path = str(tmp_path / "model.tflite")
    spatial_ops.export(
        model,
        path,
        format="litert",
        verbose=False,
        optimizations=[tf.lite.Optimize.DEFAULT],
        target_spec={"supported_types": [tf.float16]},
    )
    _assert_branches_close(_run_in_runtime("litert", path, x, tmp_path), fused, branches, tf.float16)


def test_the_ordinary_export_keeps_the_fused_op(tmp_path):
    model, _ = _model([("gelu", "gelu")])
    model.export(str(tmp_path / "model"), verbose=False)
    assert spatial_ops.exporting.fused_ops_in_saved_model(str(tmp_path / "model")) == ["SpatialOps>SpatialDense"]
    spatial_ops.export(model, str(tmp_path / "fused"), portable=False, verbose=False)
    assert spatial_ops.exporting.fused_ops_in_saved_model(str(tmp_path / "fused")) == ["SpatialOps>SpatialDense"]


@pytest.mark.parametrize("export_format", ["litert", "onnx", "openvino"])
def test_a_fused_export_for_a_converter_is_refused(tmp_path, export_format):
    model, _ = _model([("relu", "relu")])
    with pytest.raises(ValueError, match=f"format='{export_format}'.*portable=True"):
        spatial_ops.export(model, str(tmp_path / "model"), format=export_format, portable=False)


def _op_types(function, *args):
    return {op.type for op in tf.function(function).get_concrete_function(*args).graph.get_operations()}


def test_portable_traces_layers_and_op_calls_as_plain_ops():
    layer = _random_layer(activation="celu")
    spec = tf.TensorSpec((None, HEIGHT, WIDTH), tf.float32)
    kernel = tf.ones((HEIGHT, WIDTH))
    call_op = lambda x: spatial_ops.spatial_dense(x, kernel, activation="gelu", reduce_axis=-1)
    for function in (layer, call_op):
        assert "SpatialOps>SpatialDense" in _op_types(function, spec)
        with spatial_ops.portable():
            traced = _op_types(function, spec)
        assert traced.isdisjoint(spatial_ops.exporting.FUSED_OP_NAMES), traced
        assert {"Erfc", "Expm1"}.isdisjoint(traced)  # no converter for them in tf2onnx
    assert not spatial_ops.exporting.tracing_portable()


def test_portable_is_left_on_an_error():
    with pytest.raises(RuntimeError):
        with spatial_ops.portable():
            raise RuntimeError
    assert not spatial_ops.exporting.tracing_portable()


JAX_EXPORT = """
import sys
import numpy as np
import keras
import spatial_ops
from test_export import jax_exportable_activations, _model
x_path, path, out_path = sys.argv[1:]
assert keras.backend.backend() == "jax"
model, _ = _model(jax_exportable_activations(), gelu=spatial_ops.Activation("gelu", approximate=True))
y = np.asarray(model(np.load(x_path)))  # fused, by the JAX front-end
spatial_ops.export(model, path, verbose=False)
np.savez(out_path, y, *model.get_weights())
"""


def jax_exportable_activations():
    """The catalogue but exact gelu: JAX 0.10 serializes erf as a StableHLO
    composite that TensorFlow 2.21's loader cannot read (a plain Keras gelu
    fails the same way)."""
    return [(name, activation) for name, activation in _catalogue_activations() if name != "gelu"]


def test_a_jax_model_exports_a_saved_model_that_runs_without_spatial_ops(rng, tmp_path):
    """On JAX the layers run fused; exported, they are plain keras.ops, and the
    SavedModel comes from jax2tf. Both are checked against the same model,
    with the same weights, fused on TensorFlow."""
    x = rng.normal(0.0, 1.5, (5, HEIGHT, WIDTH)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    path = str(tmp_path / "model")
    env = dict(env_with_another_keras_backend(), KERAS_BACKEND="jax")
    run_python(JAX_EXPORT, tmp_path / "x.npy", path, tmp_path / "jax.npz", env=env, timeout=300)
    on_jax = np.load(tmp_path / "jax.npz")
    model, branches = _model(jax_exportable_activations(), gelu=spatial_ops.Activation("gelu", approximate=True))
    model.set_weights([on_jax[f"arr_{i}"] for i in range(1, len(on_jax.files))])
    fused = model(x).numpy()
    _assert_branches_close(on_jax["arr_0"], fused, branches, tf.float32)
    assert spatial_ops.exporting.fused_ops_in_saved_model(path) == []
    _assert_branches_close(_run_in_runtime("tf_saved_model", path, x, tmp_path), fused, branches, tf.float32)
