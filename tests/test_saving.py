"""Saving and serving: .keras files, model.export and tf.saved_model.save,
each reloaded in a fresh process that imports only spatial_ops (which
registers the op library), with identical outputs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.processes import run_python

pytestmark = pytest.mark.quick

RELOAD = """
import sys
import numpy as np
import spatial_ops
import tensorflow as tf
import keras
kind, path, x_path, out_path = sys.argv[1:]
x = np.load(x_path)
if kind == "keras":
    y = keras.models.load_model(path)(x)
else:
    loaded = tf.saved_model.load(path)  # kept: its variables die with it
    y = loaded.serve(x) if kind == "export" else loaded.predict(x)
np.save(out_path, np.asarray(y))
"""


def _model():
    inputs = keras.Input((6, 5))
    hidden = spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal")(inputs)
    pooled = spatial_ops.SpatialDense(
        activation=spatial_ops.Activation("elu", alpha=0.5),
        reduce_axis=-1,
        reduction="mean",
        bias_initializer="random_normal",
    )(hidden)
    return keras.Model(inputs, keras.layers.Dense(3)(pooled))


def _save(model, kind, path):
    if kind == "keras":
        model.save(path)
    elif kind == "export":
        model.export(path)  # a SavedModel with the "serve" endpoint
    else:
        module = tf.Module()
        module.model = model
        module.predict = tf.function(model, input_signature=[tf.TensorSpec((None, 6, 5), tf.float32)])
        tf.saved_model.save(module, str(path))


@pytest.mark.parametrize("kind", ["keras", "export", "saved_model"])
def test_reloaded_in_a_fresh_process_gives_identical_outputs(rng, tmp_path, kind):
    model = _model()
    x = rng.normal(size=(4, 6, 5)).astype(np.float32)
    expected = model(x).numpy()
    path = tmp_path / ("model.keras" if kind == "keras" else "model")
    _save(model, kind, path)
    np.save(tmp_path / "x.npy", x)
    run_python(RELOAD, kind, path, tmp_path / "x.npy", tmp_path / "y.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)


def test_loading_without_importing_spatial_ops_names_the_op(tmp_path):
    """TensorFlow itself refuses an unregistered op; its message names the
    op's SpatialOps> namespace (the README says to import spatial_ops)."""
    _model().export(tmp_path / "model")
    with pytest.raises(AssertionError, match=r"Op type not registered 'SpatialOps>SpatialDense"):
        run_python("import sys, tensorflow as tf; tf.saved_model.load(sys.argv[1])", tmp_path / "model")
