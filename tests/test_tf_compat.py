"""spatial_ops/tensorflow/_tf_compat.py: the reference's exact gelu is the same formula
on every TensorFlow release (the one 2.19 and later use, which the fused
kernel computes), and the premise holds: before 2.19, Keras' gelu is the
older erf form. Run against every release by scripts/tf_matrix.sh."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import assert_close
from spatial_ops.activations import resolve
from spatial_ops.tensorflow import _tf_compat

pytestmark = pytest.mark.quick

RELEASE = tuple(int(part) for part in tf.__version__.split(".")[:2])
SQRT_HALF_F32 = float(np.float32(math.sqrt(0.5)))
SQRT_TWO_F32 = float(np.float32(math.sqrt(2.0)))


def erfc_form(x):
    return np.array([0.5 * v * math.erfc(-v * SQRT_HALF_F32) for v in x])


def erf_form(x):
    return np.array([0.5 * v * (1.0 + math.erf(v / SQRT_TWO_F32)) for v in x])


def draw(rng):
    return rng.normal(scale=3.0, size=257)


def test_reference_gelu_is_the_erfc_form_on_every_release(rng):
    x = draw(rng)
    got = _tf_compat.reference_function(resolve("gelu"))(tf.constant(x))
    assert_close(got, erfc_form(x), tf.float64, "reference gelu")


def test_keras_gelu_is_the_form_of_this_release(rng):
    x = draw(rng)
    keras_gelu = keras.activations.gelu(tf.constant(x), approximate=False)
    assert_close(keras_gelu, erfc_form(x) if RELEASE >= (2, 19) else erf_form(x), tf.float64, "keras gelu")
    # The two forms differ enough in float64 for the check above to tell them apart.
    with pytest.raises(AssertionError):
        assert_close(erf_form(x), erfc_form(x), tf.float64)


def test_reference_uses_keras_gelu_where_it_is_the_erfc_form():
    resolved = resolve("gelu")
    assert (_tf_compat.reference_function(resolved) is resolved.fn) == (RELEASE >= (2, 19))


def test_other_activations_are_keras_own():
    for identifier in ("relu", "silu", "tanh", spatial_ops.Activation("gelu", approximate=True)):
        resolved = resolve(identifier)
        assert _tf_compat.reference_function(resolved) is resolved.fn


def test_fused_gelu_matches_the_reference_in_float64(rng):
    x = tf.constant(rng.normal(scale=3.0, size=(4, 9, 7)))
    kernel = tf.constant(rng.normal(size=(9, 7)))
    assert_close(
        spatial_ops.spatial_dense(x, kernel, activation="gelu"),
        spatial_ops.reference.spatial_dense(x, kernel, activation="gelu"),
        tf.float64,
    )
