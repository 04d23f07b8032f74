"""Forward and training-step timings of the fused op against the composite
peers (eager, tf.function, XLA), with a large copy as the streaming floor,
all measured side by side in one run.

    .venv/bin/pytest benchmarks --benchmark-only --benchmark-group-by=param:size,param:pass_
SPATIAL_OPS_BENCH_QUICK=1 runs tiny sizes only (what CI does, untimed)."""

import functools
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from activation_rows import every_activation

import spatial_ops

QUICK = os.environ.get("SPATIAL_OPS_BENCH_QUICK") == "1"
SIZES = [(8, 3, 3)] if QUICK else [(8, 3, 3), (64, 64, 64), (256, 128, 128), (1024, 256, 256)]
ACTIVATIONS = ["relu"] if QUICK else ["relu", "gelu"]
REDUCE_AXES = [None, -1]


def composite(x, kernel, bias, activation, reduce_axis):
    return spatial_ops.reference.spatial_dense(x, kernel, bias, activation=activation, reduce_axis=reduce_axis)


IMPLEMENTATIONS = {
    "fused": spatial_ops.spatial_dense,
    "eager": composite,
    "tf.function": tf.function(composite, reduce_retracing=True),
    "xla": tf.function(composite, jit_compile=True, reduce_retracing=True),
}


def one_add(x, kernel, bias, activation=None, reduce_axis=None):
    """One eager TensorFlow op on the same tensors: its dispatch cost is the
    floor of any eager call at tiny sizes (and of a tape's step)."""
    return tf.add(x, kernel)


@functools.lru_cache(maxsize=2)  # drawing 256 MB takes about a second; tensors are immutable
def operands(size, dtype=tf.float32):
    rng = np.random.default_rng(0)
    draw = lambda shape: tf.cast(tf.constant(rng.normal(size=shape).astype(np.float32)), dtype)  # noqa: E731
    return draw(size), draw(size[1:]), draw(size[1:])


def training_step(fn, x, kernel, bias, activation, reduce_axis):
    with tf.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        y = fn(x, kernel, bias, activation=activation, reduce_axis=reduce_axis)
    return tape.gradient(y, [x, kernel, bias])


def time_pass(benchmark, fn, pass_, x, kernel, bias, activation, reduce_axis):
    """Times fn's forward or training step, traced and compiled beforehand."""
    if pass_ == "forward":
        run = lambda: fn(x, kernel, bias, activation=activation, reduce_axis=reduce_axis)  # noqa: E731
    else:
        run = lambda: training_step(fn, x, kernel, bias, activation, reduce_axis)  # noqa: E731
    run()
    benchmark(run)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
def test_copy_floor(benchmark, size):
    """A large copy: reads and writes x once, the streaming bandwidth."""
    x = operands(size)[0]
    benchmark.extra_info["bytes"] = 2 * x.numpy().nbytes
    benchmark(lambda: tf.raw_ops.DeepCopy(x=x))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
def test_read_floor(benchmark, size):
    """tf.reduce_sum(x): reads x once and writes nothing, on every core: no
    pass that reads x can beat it (the floor of a reduced forward)."""
    x = operands(size)[0]
    benchmark(lambda: tf.reduce_sum(x))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
def test_tape_fill(benchmark, size):
    """tf.ones_like(x): the gradient a tape starts from when it differentiates
    a y of x's size (training_step passes none), an x-sized write that every
    implementation's training step pays, and no floor counts."""
    x = operands(size)[0]
    benchmark(lambda: tf.ones_like(x))


@pytest.mark.parametrize("pass_", ["forward", "training_step"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
def test_one_tf_add(benchmark, size, pass_):
    """tf.add(x, kernel) in eager mode, alone and under a tape."""
    x, kernel, bias = operands(size)
    if pass_ == "forward":
        run = lambda: one_add(x, kernel, bias)
    else:
        run = lambda: training_step(one_add, x, kernel, bias, None, None)
    run()
    benchmark(run)


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("reduce_axis", REDUCE_AXES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("pass_", ["forward", "training_step"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "x".join(map(str, s)))
def test_spatial_dense(benchmark, size, pass_, activation, reduce_axis, implementation):
    time_pass(benchmark, IMPLEMENTATIONS[implementation], pass_, *operands(size), activation, reduce_axis)


# Half types at the largest size, fused only: against the float32 rows of
# test_spatial_dense (same element count), the time per element (target:
# no more than float32's, having half the bytes to move).
HALF_SIZE = SIZES[-1]  # also the size every activation runs at, below


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("reduce_axis", REDUCE_AXES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("pass_", ["forward", "training_step"])
@pytest.mark.parametrize("size", [HALF_SIZE], ids=lambda s: "x".join(map(str, s)))
def test_fused_half_types(benchmark, size, pass_, activation, reduce_axis, dtype):
    time_pass(benchmark, spatial_ops.spatial_dense, pass_, *operands(size, getattr(tf, dtype)), activation, reduce_axis)


# Every fused activation at the largest size, fused only: the targets hold
# for each (the peers above run relu and gelu). Rows: activation_rows.py.
EVERY_ACTIVATION = dict(every_activation())


@pytest.mark.parametrize("reduce_axis", REDUCE_AXES, ids=str)
@pytest.mark.parametrize("table_row", list(EVERY_ACTIVATION))
@pytest.mark.parametrize("pass_", ["forward", "training_step"])
@pytest.mark.parametrize("size", [HALF_SIZE], ids=lambda s: "x".join(map(str, s)))
def test_fused_every_activation(benchmark, size, pass_, table_row, reduce_axis):
    time_pass(benchmark, spatial_ops.spatial_dense, pass_, *operands(size), EVERY_ACTIVATION[table_row], reduce_axis)


def test_peak_memory_script_runs():
    """benchmarks/peak_memory.py end to end at a tiny size (it measures, never judges)."""
    import peak_memory

    table = peak_memory.table((8, 3, 3))
    assert table.count("\n| relu | None |") == 3  # the peers', the dy-in-step and the XLA-step tables


def test_compare_builds_script_runs(capsys, monkeypatch):
    """benchmarks/compare_builds.py end to end, the installed build against itself."""
    import compare_builds

    package_parent = str(Path(spatial_ops.__file__).parents[1])
    monkeypatch.setattr(sys, "argv", ["compare_builds.py", package_parent, package_parent, "--rounds", "1"])
    compare_builds.main()
    assert "outputs bitwise equal: all" in capsys.readouterr().out


def test_first_touch_script_runs():
    """benchmarks/first_touch.py end to end at a tiny size (it measures, never judges)."""
    import first_touch

    table = first_touch.table((8, 3, 3))
    assert table.count("| forward |") == len(first_touch.ALLOCATORS)


def test_xla_step_script_runs():
    """benchmarks/xla_step.py end to end at a tiny size (it measures, never judges)."""
    import xla_step

    table = xla_step.table((4, 6, 5))
    assert "| fused, XLA |" in table and "fused=False" in table


def test_backends_script_runs(tmp_path):
    """benchmarks/backends.py on JAX and PyTorch at a tiny size, plot included (it measures, never judges)."""
    import backends

    measured = {backend: backends.measure_in_child(backend, (4, 6, 5)) for backend in backends.ROWS}
    table = backends.table((4, 6, 5), measured)
    assert "| jax | fused, jax.jit |" in table and "| torch | composite, torch.compile |" in table
    backends.plot(measured, tmp_path / "backends.png")
    assert (tmp_path / "backends.png").stat().st_size > 0
    models = backends.model_table({"torch": backends.measure_in_child("torch", (4, 6, 5), "MODEL_ROWS")})
    assert "| torch | fused, jit_compile=True |" in models and "| torch | composite, eager |" in models


def test_activation_cost_script_runs():
    """benchmarks/activation_cost.py on every fused row, one call each (it measures, never judges)."""
    import activation_cost

    rows = activation_cost.activations()
    assert sorted(table_row for table_row, _ in rows) == sorted(
        n.strip() for n in spatial_ops._core.activation_names().split(",")
    )
    for table_row, params in rows:
        forward, backward = activation_cost.cost(np.float32, table_row, params, repeats=1)
        assert forward > 0 and backward > 0


def test_against_xla_script_runs():
    """benchmarks/against_xla.py end to end at a tiny size, one allocator (it measures, never judges)."""
    import against_xla

    table = against_xla.table((4, 6, 5), ["relu", "gelu"], rounds=1, allocators=("BFC",))
    assert table.count("| BFC |") == 2 * len(against_xla.PASSES)


def test_accuracy_script_runs():
    """benchmarks/accuracy.py end to end on a coarse grid: a row per activation, three finite errors each."""
    import accuracy

    table = accuracy.table(step=400_009)
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| activation")]
    assert [row.split(" | ")[0][2:] for row in rows] == list(accuracy.EXACT)
    for row in rows:
        errors = [float(cell.split(" (")[0]) for cell in row.strip(" |").split(" | ")[1:]]
        assert len(errors) == 3 and all(np.isfinite(errors)), row
