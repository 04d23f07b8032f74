"""What a Keras user does with the layers, run in a child process on the
Keras backend its environment names (tests/test_layers_on_every_backend.py):
Keras' own layer battery for each class, fused and composite; fit that
moves the weights; mixed precision; and .keras files written on one backend
read on another.

Run as `python -c "from helpers.layer_battery import main; main()" WORK_DIR SEED [read]`:
writes WORK_DIR/<backend>.keras and WORK_DIR/<backend>.npz (x and the saved
model's output on x), and checks every WORK_DIR/<other backend>.keras found
there; with `read`, only the last.
"""

import sys
from pathlib import Path

import keras
import numpy as np
from keras.src.testing import TestCase

import spatial_ops
from spatial_ops.testing.criteria import assert_close

HEIGHT, WIDTH = 4, 3


def _battery_cases():
    """(class, constructor arguments, output shape, supports masking)."""
    spatial = (2, HEIGHT, WIDTH)
    cases = []
    for fused in ("auto", False):
        cases += [
            (spatial_ops.SpatialDense, dict(activation="gelu", fused=fused), spatial, True),
            (spatial_ops.SpatialDense, dict(reduce_axis=-1, reduction="mean", fused=fused), spatial[:2], False),
        ]
    cases += [
        (spatial_ops.Custom2DDense, dict(height=HEIGHT, width=WIDTH), spatial, True),
        (spatial_ops.Custom2DDenseActivation, dict(height=HEIGHT, width=WIDTH), spatial, True),
        (spatial_ops.Custom2DDenseSummation, dict(height=HEIGHT, width=WIDTH), spatial[:2], False),
    ]
    return cases


class _Battery(TestCase):
    def runTest(self):
        for cls, kwargs, output_shape, masking in _battery_cases():
            with self.subTest(cls=cls.__name__, **kwargs):
                self.run_layer_test(
                    cls,
                    init_kwargs=kwargs,
                    input_shape=(2, HEIGHT, WIDTH),
                    expected_output_shape=output_shape,
                    expected_num_trainable_weights=2,
                    expected_num_non_trainable_weights=0,
                    expected_num_seed_generators=0,
                    supports_masking=masking,
                    run_training_check=True,
                    run_mixed_precision_check=True,
                )


def run_keras_battery():
    result = _Battery().run()
    problems = result.errors + result.failures
    assert not problems, "\n".join(text for _, text in problems)


def _model(fused="auto"):
    return keras.Sequential(
        [
            keras.Input((6, 5)),
            spatial_ops.SpatialDense(
                activation="gelu", kernel_initializer="random_normal", bias_initializer="random_normal", fused=fused
            ),
            spatial_ops.SpatialDense(
                activation=spatial_ops.Activation("elu", alpha=0.5), reduce_axis=-1, reduction="mean", fused=fused
            ),
            keras.layers.Dense(1, dtype="float32"),
        ]
    )


def check_fit(rng, policy):
    """fit moves the weights of every SpatialDense, fused like the composite."""
    x = rng.normal(size=(64, 6, 5)).astype(np.float32)
    targets = x[:, :3].mean(axis=(1, 2))[:, None]
    weights = {}
    keras.config.set_dtype_policy(policy)
    try:
        for fused in ("auto", False):
            keras.utils.set_random_seed(5)
            model = _model(fused)
            model.compile(keras.optimizers.SGD(0.1), "mse")
            before = model.get_weights()
            model.fit(x, targets, batch_size=16, epochs=2, shuffle=False, verbose=0)
            after = model.get_weights()
            for index in range(4):  # the two SpatialDense layers' kernel and bias
                assert not np.array_equal(before[index], after[index]), f"fit left weight {index} unchanged"
            weights[fused] = after
    finally:
        keras.config.set_dtype_policy("float32")
    compute = "float32" if policy == "float32" else policy.split("_")[1]
    for fused_weight, composite_weight in zip(weights["auto"], weights[False]):
        assert_close(fused_weight, composite_weight, compute, f"weights after fit ({policy})")


def save(work_dir, rng):
    keras.utils.set_random_seed(11)
    model = _model()
    x = rng.normal(size=(8, 6, 5)).astype(np.float32)
    model.save(work_dir / f"{keras.backend.backend()}.keras")
    np.savez(work_dir / f"{keras.backend.backend()}.npz", x=x, y=keras.ops.convert_to_numpy(model(x)))


def read_others(work_dir):
    backend = keras.backend.backend()
    for other in work_dir.glob("*.keras"):
        if other.stem == backend:
            continue
        saved = np.load(work_dir / f"{other.stem}.npz")
        loaded = keras.saving.load_model(other)
        assert_close(
            keras.ops.convert_to_numpy(loaded(saved["x"])), saved["y"], "float32", f"{other.name} read on {backend}"
        )


def main():
    work_dir, seed, *mode = sys.argv[1:]
    work_dir, rng = Path(work_dir), np.random.default_rng(int(seed))
    if mode != ["read"]:
        run_keras_battery()
        for policy in ("float32", "mixed_float16", "mixed_bfloat16"):
            check_fit(rng, policy)
        save(work_dir, rng)
    read_others(work_dir)
    print("ok", keras.backend.backend())
