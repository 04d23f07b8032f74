"""Trains a small SpatialDense model on scikit-learn's bundled 8x8 digits
(nothing is downloaded), once with the fused layers and once with the same
layers running TensorFlow composites, and prints accuracy and step time."""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import spatial_ops  # noqa: E402

EPOCHS = 12
BATCH = 64


class StepTimer(keras.callbacks.Callback):
    """Wall time of each training step after the first epoch (tracing excluded)."""

    def on_train_begin(self, logs=None):
        self.times, self.epoch = [], 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch > 0:
            self.times.append(time.perf_counter() - self.start)


def build_model(fused):
    """Per-pixel features, a per-location weight/bias/gelu on every feature,
    then a learned per-location spatial average, then a classifier."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8)),
            keras.layers.Reshape((8, 8, 1)),
            keras.layers.Dense(32),
            spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal", fused=fused),
            spatial_ops.SpatialDense(reduce_axis=(1, 2), reduction="mean", fused=fused),
            keras.layers.Dense(10),
        ],
        name="fused" if fused else "reference",
    )


def main():
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    results = {}
    for fused in (True, False):
        model = build_model(fused)
        model.compile(
            optimizer=keras.optimizers.Adam(0.01),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        if fused:
            model.summary()
        print(f"\nTraining with {'fused spatial_ops' if fused else 'TensorFlow composite'} layers")
        timer = StepTimer()
        model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH, callbacks=[timer], verbose=1)
        _, accuracy = model.evaluate(x_test, y_test, verbose=0)
        results[model.name] = (accuracy, 1e3 * float(np.median(timer.times)))
    print("\nlayers      test accuracy   median step (ms)")
    for name, (accuracy, step_ms) in results.items():
        print(f"{name:<11} {accuracy:>13.3f}   {step_ms:>16.2f}")


if __name__ == "__main__":
    main()
