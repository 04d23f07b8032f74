"""A Keras model (SpatialDense gelu, relu, then mean over the last two axes;
Dense(10)) trained with train_on_batch on this process' Keras backend:
fused layers or the composite (fused=False), eager or jit_compile=True
(XLA on TensorFlow, jax.jit on JAX, torch.compile on PyTorch).
benchmarks/report.py runs it once per backend (KERAS_BACKEND)."""

import keras
import numpy as np
import pytest
from harness import QUICK, measure

import spatial_ops

INPUT = (4, 6, 5) if QUICK else (16, 32, 32)
BATCH = 2 if QUICK else 128


def model(fused, jit_compile):
    keras.utils.set_random_seed(0)
    built = keras.Sequential(
        [
            keras.Input(INPUT),
            spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal", fused=fused),
            spatial_ops.SpatialDense(activation="relu", fused=fused),
            spatial_ops.SpatialDense(reduce_axis=(2, 3), reduction="mean", fused=fused),
            keras.layers.Dense(10),
        ]
    )
    built.compile(
        optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=jit_compile
    )
    return built


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "jit_compile=True"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_keras_model_train_on_batch(benchmark, fused, jit_compile):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, *INPUT)).astype(np.float32)
    labels = rng.integers(0, 10, BATCH)
    trained = model(fused, jit_compile)
    backend = keras.backend.backend()
    measure(
        benchmark,
        lambda: trained.train_on_batch(x, labels),
        group=f"keras model {backend} {BATCH}x{'x'.join(map(str, INPUT))}",
        backend=backend,
        peer=f"{'fused' if fused else 'composite'}, {'jit_compile=True' if jit_compile else 'eager'}",
    )
