"""Training steps compiled with XLA: the fused op as a custom call of its
kernels, against the same math as a TensorFlow composite that XLA fuses
itself, and against the fused op in a tf.function without XLA; then a Keras
model (Conv2D -> SpatialDense -> Dense) trained with jit_compile=True,
fused against composite (fused=False). Medians of repeated steps, measured
side by side in one process.

    .venv/bin/python benchmarks/xla_step.py [--size 256 128 128]

Prints a markdown table; where the build does not lower the op to XLA
(spatial_ops.tensorflow.runs_fused_in_xla() is False) the "fused, XLA" rows
run the composite too, and the table says so.
"""

import argparse
import os
import time

import numpy as np

QUICK = os.environ.get("SPATIAL_OPS_BENCH_QUICK") == "1"  # CI's smoke run
REPEATS = 1 if QUICK else 15


def median_ms(fn):
    fn()  # trace and compile
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = fn()
        _ = [t.numpy() for t in result] if isinstance(result, (list, tuple)) else result
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def step_rows(size, activation):
    import tensorflow as tf

    import spatial_ops

    rng = np.random.default_rng(0)
    x, kernel, bias = (tf.constant(rng.normal(size=s).astype(np.float32)) for s in (size, size[1:], size[1:]))
    w = tf.constant(rng.normal(size=size).astype(np.float32))

    def step(implementation):
        def run(x, kernel, bias):
            with tf.GradientTape() as tape:
                tape.watch([x, kernel, bias])
                loss = tf.reduce_sum(implementation(x, kernel, bias, activation=activation) * w)
            return tape.gradient(loss, [x, kernel, bias])

        return run

    steps = {
        "fused, XLA": tf.function(step(spatial_ops.spatial_dense), jit_compile=True),
        "composite, XLA": tf.function(step(spatial_ops.reference.spatial_dense), jit_compile=True),
        "fused, tf.function without XLA": tf.function(step(spatial_ops.spatial_dense)),
    }
    return {name: median_ms(lambda fn=fn: fn(x, kernel, bias)) for name, fn in steps.items()}


def model_rows(size):
    import keras

    import spatial_ops

    rng = np.random.default_rng(0)
    batch, height, width = size[0], size[1], size[2]
    x = rng.normal(size=(batch, height, width, 1)).astype(np.float32)
    y = rng.normal(size=(batch, 1)).astype(np.float32)
    models = {}
    for fused in ("auto", False):
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((height, width, 1)),
                keras.layers.Conv2D(8, 3, padding="same"),
                spatial_ops.SpatialDense(activation="gelu", fused=fused),
                keras.layers.Flatten(),
                keras.layers.Dense(1),
            ]
        )
        model.compile(keras.optimizers.SGD(0.01), "mse", jit_compile=True)
        models[f"Keras model, jit_compile=True, fused={fused!r}"] = model
    data = (keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y))
    # Steps of the two models alternate, so that both see the same machine state.
    times = {name: [] for name in models}
    for model in models.values():
        model.train_on_batch(*data)  # trace and compile
    for _ in range(REPEATS):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(*data)
            times[name].append(time.perf_counter() - start)
    return {name: tuple(float(f(t)) * 1e3 for f in (np.median, np.min, np.max)) for name, t in times.items()}


def table(size):
    import spatial_ops

    lowered = spatial_ops.tensorflow.runs_fused_in_xla()
    lines = [
        f"x {'x'.join(map(str, size))} float32, ms per training step (median of {REPEATS}); the op "
        + (
            "compiles as a custom call of its kernels"
            if lowered
            else "does not lower to XLA in this build: 'fused, XLA' runs the composite"
        )
        + ":\n",
        "| step | relu | gelu |",
        "|---|---|---|",
    ]
    by_activation = {activation: step_rows(size, activation) for activation in ("relu", "gelu")}
    for name in by_activation["relu"]:
        lines.append(f"| {name} | {by_activation['relu'][name]:.2f} | {by_activation['gelu'][name]:.2f} |")
    lines += [
        "",
        f"Keras model (Conv2D 8x3x3 -> SpatialDense(gelu) -> Dense), batch {size[0]} of "
        f"{size[1]}x{size[2]}x1, ms per train_on_batch (median, fastest and slowest of {REPEATS}):\n",
        "| model | ms | fastest | slowest |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {ms:.2f} | {fastest:.2f} | {slowest:.2f} |"
        for name, (ms, fastest, slowest) in model_rows(size).items()
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, nargs="+", default=[256, 128, 128])
    args = parser.parse_args()
    print(table(tuple(args.size)))


if __name__ == "__main__":
    main()
