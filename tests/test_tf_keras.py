"""tf_keras (TF_USE_LEGACY_KERAS=1): spatial_ops.SpatialDense is then a
tf_keras layer, and a tf.keras model built with it predicts like the
reference, trains, saves and reloads, and converts portably to LiteRT. Each check runs in a fresh
process, since TensorFlow reads TF_USE_LEGACY_KERAS once."""

import os

import pytest

from helpers.processes import run_python

pytest.importorskip("tf_keras", reason="tf_keras is not installed (see requirements.txt)")

CHILD = """
import sys
import numpy as np
import tensorflow as tf
import spatial_ops
from helpers.support import assert_close, draw_operands

assert tf.keras.layers.Layer.__module__.startswith("tf_keras"), tf.keras.layers.Layer
assert issubclass(spatial_ops.SpatialDense, tf.keras.layers.Layer)
rng = np.random.default_rng(int(sys.argv[1]))
x, kernel, bias = draw_operands(rng, (16, 6, 5), (6, 5), tf.float32)
first = spatial_ops.SpatialDense(activation="gelu")
model = tf.keras.Sequential([
    tf.keras.Input((6, 5)), first,
    spatial_ops.SpatialDense(activation="tanh", reduce_axis=-1, reduction="mean"),
    tf.keras.layers.Dense(1),
])
first.set_weights([kernel, bias])

# Forward and gradients against the reference on the layer's weights.
reference_first = lambda x, k, b: spatial_ops.reference.spatial_dense(x, k, b, activation="gelu")
with tf.GradientTape(persistent=True) as tape:
    y = first(x)
    k, b = tf.constant(kernel), tf.constant(bias)
    tape.watch([k, b])
    expected = reference_first(x, k, b)
assert_close(y, expected, tf.float32, "y")
for got, want in zip(tape.gradient(y, first.trainable_weights), tape.gradient(expected, [k, b])):
    assert_close(got, want, tf.float32, "gradient")

# Training lowers the loss; a saved model reloads with identical outputs.
targets = np.tanh(x[:, :3].mean(axis=(1, 2)))[:, None]
model.compile(tf.keras.optimizers.SGD(0.1), "mse")
first_loss = model.evaluate(x, targets, verbose=0)
model.fit(x, targets, epochs=20, batch_size=8, verbose=0)
assert model.evaluate(x, targets, verbose=0) < first_loss
path = sys.argv[2] + "/model.keras"
model.save(path)
loaded = tf.keras.models.load_model(path)
np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())

# The portable form converts to LiteRT builtins (tf_keras' own converter entry).
from helpers.runtimes import run_litert
with spatial_ops.portable():
    converted = tf.lite.TFLiteConverter.from_keras_model(model).convert()
with open(sys.argv[2] + "/model.tflite", "wb") as file:
    file.write(converted)
assert_close(run_litert(sys.argv[2] + "/model.tflite", x), model(x), tf.float32, "LiteRT")
print("ok")
"""


def test_tf_keras_model_with_spatial_dense(rng, tmp_path):
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1")
    assert run_python(CHILD, int(rng.integers(2**31)), tmp_path, env=env).split()[-1] == "ok"
