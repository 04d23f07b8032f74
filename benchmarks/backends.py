"""The fused op on each Keras backend's front-end against that backend's own
composite of the same math (spatial_ops.composite, keras.ops): on JAX,
jax.jit of both (XLA fuses the composite itself); on PyTorch, eager and
torch.compile of both. A forward and a training step (y and the gradients
of sum(y * w) for x, kernel and bias), then the host overhead of one eager
call on a tiny input. Each backend runs in its own process (Keras fixes its
backend at import); medians of repeated runs, the implementations taking
turns within each repetition, in that process.

    .venv/bin/python benchmarks/backends.py [--size 256 128 128] [--plot benchmarks/backends.png]
        [--backends jax torch] [--model]

Prints a markdown table (and writes the plot when asked); --model adds a
Keras model's training steps, fused against composite, eager and compiled.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time

import numpy as np

QUICK = os.environ.get("SPATIAL_OPS_BENCH_QUICK") == "1"  # CI's smoke run
REPEATS = 1 if QUICK else 15
OVERHEAD_CALLS = 3 if QUICK else 2000
ACTIVATIONS = ("relu", "gelu")
SIZE = (256, 128, 128)


def medians_ms(runs, finish):
    """{name: median ms} of runs {name: fn}, taking turns within each
    repetition so that every implementation sees the same machine state."""
    for fn in runs.values():
        finish(fn())  # trace and compile
    times = {name: [] for name in runs}
    for _ in range(REPEATS):
        for name, fn in runs.items():
            start = time.perf_counter()
            finish(fn())
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) * 1e3 for name, t in times.items()}


def overhead_us(fn, finish):
    """Median over batches of calls of the time per call, in microseconds."""
    finish(fn())
    per_call = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(OVERHEAD_CALLS):
            result = fn()
        finish(result)
        per_call.append((time.perf_counter() - start) / OVERHEAD_CALLS)
    return float(np.median(per_call)) * 1e6


def jax_rows(size):
    import jax
    import jax.numpy as jnp

    import spatial_ops.composite
    import spatial_ops.jax

    rng = np.random.default_rng(0)
    x, kernel, bias, w = (jnp.asarray(rng.normal(size=s).astype(np.float32)) for s in (size, size[1:], size[1:], size))
    finish = jax.block_until_ready
    implementations = {"fused": spatial_ops.jax.spatial_dense, "composite": spatial_ops.composite.spatial_dense}
    rows = {}
    for activation in ACTIVATIONS:
        forwards, steps = {}, {}
        for name, op in implementations.items():
            forward = jax.jit(lambda x, k, b, op=op: op(x, k, b, activation=activation))
            loss = lambda x, k, b, op=op: jnp.sum(op(x, k, b, activation=activation) * w)
            step = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
            forwards[f"{name}, jax.jit"] = lambda forward=forward: forward(x, kernel, bias)
            steps[f"{name}, jax.jit"] = lambda step=step: step(x, kernel, bias)
        rows.update({(name, activation, "forward"): ms for name, ms in medians_ms(forwards, finish).items()})
        rows.update({(name, activation, "training step"): ms for name, ms in medians_ms(steps, finish).items()})
    tiny = [jnp.ones(s, jnp.float32) for s in ((1, 4, 4), (4, 4), (4, 4))]
    for name, op in implementations.items():
        call = jax.jit(lambda x, k, b, op=op: op(x, k, b, activation="relu"))
        rows[(f"{name}, jax.jit", "relu", "µs per call, x 1x4x4")] = overhead_us(lambda: call(*tiny), finish)
    return rows


def torch_rows(size):
    import torch

    import spatial_ops.composite
    import spatial_ops.torch

    torch.manual_seed(0)
    x, kernel, bias, w = (torch.randn(*s) for s in (size, size[1:], size[1:], size))
    operands = [t.requires_grad_() for t in (x, kernel, bias)]
    finish = lambda result: result
    implementations = {"fused": spatial_ops.torch.spatial_dense, "composite": spatial_ops.composite.spatial_dense}
    rows = {}
    for activation in ACTIVATIONS:
        forwards, steps = {}, {}
        for name, op in implementations.items():
            forward = lambda x, k, b, op=op: op(x, k, b, activation=activation)
            step = lambda x, k, b, forward=forward: torch.autograd.grad((forward(x, k, b) * w).sum(), (x, k, b))
            for mode, wrap in (("eager", lambda f: f), ("torch.compile", torch.compile)):
                compiled_forward, compiled_step = wrap(forward), wrap(step)
                forwards[f"{name}, {mode}"] = lambda f=compiled_forward: f(*operands)
                steps[f"{name}, {mode}"] = lambda f=compiled_step: f(*operands)
        with torch.no_grad():
            rows.update({(name, activation, "forward"): ms for name, ms in medians_ms(forwards, finish).items()})
        rows.update({(name, activation, "training step"): ms for name, ms in medians_ms(steps, finish).items()})
    tiny = [torch.ones(*s) for s in ((1, 4, 4), (4, 4), (4, 4))]
    for name, op in implementations.items():
        with torch.no_grad():
            rows[(f"{name}, eager", "relu", "µs per call, x 1x4x4")] = overhead_us(
                lambda: op(*tiny, activation="relu"), finish
            )
    return rows


MODEL_INPUT = (4, 6, 5) if QUICK else (16, 32, 32)
MODEL_BATCH = 2 if QUICK else 128


def model_rows(size=None):
    """A Keras model (three SpatialDense layers and a Dense) trained with
    train_on_batch on this process' backend: fused or composite layers
    (fused=False), eager or jit_compile=True (torch.compile on PyTorch,
    jax.jit on JAX), the four taking turns."""
    import keras

    import spatial_ops

    rng = np.random.default_rng(0)
    x = rng.normal(size=(MODEL_BATCH, *MODEL_INPUT)).astype(np.float32)
    labels = rng.integers(0, 10, MODEL_BATCH)
    steps = {}
    for fused in (True, False):
        for jit_compile in (False, True):
            model = keras.Sequential(
                [
                    keras.Input(MODEL_INPUT),
                    spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal", fused=fused),
                    spatial_ops.SpatialDense(activation="relu", fused=fused),
                    spatial_ops.SpatialDense(reduce_axis=(2, 3), reduction="mean", fused=fused),
                    keras.layers.Dense(10),
                ]
            )
            model.compile(
                optimizer="sgd",
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                jit_compile=jit_compile,
            )
            name = f"{'fused' if fused else 'composite'}, {'jit_compile=True' if jit_compile else 'eager'}"
            steps[name] = lambda model=model: model.train_on_batch(x, labels)
    return {(name, "model", "train_on_batch"): ms for name, ms in medians_ms(steps, lambda result: result).items()}


ROWS = {"jax": jax_rows, "torch": torch_rows}
MODEL_ROWS = {"jax": model_rows, "torch": model_rows}


def measure_in_child(backend, size, table_name="ROWS"):
    """The rows of one backend (from ROWS, or MODEL_ROWS), measured in a
    process whose Keras runs it."""
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import backends; "
        f"rows = backends.{table_name}[sys.argv[2]](tuple(map(int, sys.argv[3:]))); "
        "print(json.dumps([[*key, value] for key, value in rows.items()]))"
    )
    # -P: the installed spatial_ops, not a source checkout in the working directory.
    result = subprocess.run(
        [sys.executable, "-P", "-c", code, os.path.dirname(os.path.abspath(__file__)), backend, *map(str, size)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the {backend} benchmark failed:\n{result.stderr[-3000:]}")
    return {tuple(row[:3]): row[3] for row in json.loads(result.stdout.strip().splitlines()[-1])}


def table(size, measured):
    from spatial_ops import _core

    lines = [
        f"Run on {datetime.date.today()}, CPU build {_core.active_cpu_isa()}, x {'x'.join(map(str, size))} "
        f"float32, ms (median of {REPEATS}); the last column is the host overhead of one call on a 1x4x4 "
        "input, in µs:\n",
        "| backend | implementation | "
        + " | ".join(f"{a} {p}" for a in ACTIVATIONS for p in ("forward", "training step"))
        + " | µs per call |",
        "|---|---|" + "---|" * (2 * len(ACTIVATIONS) + 1),
    ]
    for backend, rows in measured.items():
        for implementation in dict.fromkeys(key[0] for key in rows):
            cells = [f"{rows[(implementation, a, p)]:.2f}" for a in ACTIVATIONS for p in ("forward", "training step")]
            overhead = rows.get((implementation, "relu", "µs per call, x 1x4x4"))
            cells.append("" if overhead is None else f"{overhead:.1f}")
            lines.append(f"| {backend} | {implementation} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def model_table(measured):
    lines = [
        f"A Keras model (SpatialDense gelu, relu, then mean over the last two axes; Dense(10)), x "
        f"{MODEL_BATCH}x{'x'.join(map(str, MODEL_INPUT))} float32, ms per train_on_batch (median of {REPEATS}):\n",
        "| backend | implementation | ms per step |",
        "|---|---|---|",
    ]
    for backend, rows in measured.items():
        lines += [f"| {backend} | {key[0]} | {ms:.2f} |" for key, ms in rows.items()]
    return "\n".join(lines) + "\n"


def plot(measured, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    passes = [(a, p) for a in ACTIVATIONS for p in ("forward", "training step")]
    figure, axes = plt.subplots(1, len(measured), figsize=(6 * len(measured), 4), squeeze=False)
    for axis, (backend, rows) in zip(axes[0], measured.items()):
        implementations = list(dict.fromkeys(key[0] for key in rows))
        width = 0.8 / len(implementations)
        for i, implementation in enumerate(implementations):
            axis.bar(
                np.arange(len(passes)) + i * width,
                [rows[(implementation, *p)] for p in passes],
                width,
                label=implementation,
            )
        axis.set_xticks(np.arange(len(passes)) + 0.4 - width / 2, [f"{a}\n{p}" for a, p in passes])
        axis.set_ylabel("ms (lower is better)")
        axis.set_title(f"Keras backend {backend}")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, nargs="+", default=list(SIZE))
    parser.add_argument("--plot", help="write a bar chart to this path")
    parser.add_argument("--backends", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--model", action="store_true", help="also time the Keras model's training steps")
    args = parser.parse_args()
    size = tuple(args.size)
    measured = {backend: measure_in_child(backend, size) for backend in args.backends}
    print(table(size, measured))
    if args.model:
        print(model_table({backend: measure_in_child(backend, size, "MODEL_ROWS") for backend in args.backends}))
    if args.plot:
        plot(measured, args.plot)


if __name__ == "__main__":
    main()
