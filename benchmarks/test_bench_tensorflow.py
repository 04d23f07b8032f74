"""TensorFlow: the fused op against the composite peers (eager,
tf.function, XLA) of the same math, forward and training step, with a large
copy, a read and the tape's fill as the floors, all in one process.

    .venv/bin/pytest benchmarks/test_bench_tensorflow.py --benchmark-only
(benchmarks/report.py runs it and renders the tables.)"""

import functools

import numpy as np
import pytest
import tensorflow as tf
from harness import LARGE, QUICK, every_activation, measure, size_id

import spatial_ops

SIZES = [LARGE] if QUICK else [(8, 3, 3), (64, 64, 64), (256, 128, 128), LARGE]
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


def time_pass(benchmark, fn, pass_, x, kernel, bias, activation, reduce_axis, group):
    """Times fn's forward or training step, traced and compiled beforehand."""
    if pass_ == "forward":
        run = lambda: fn(x, kernel, bias, activation=activation, reduce_axis=reduce_axis)  # noqa: E731
    else:
        run = lambda: training_step(fn, x, kernel, bias, activation, reduce_axis)  # noqa: E731
    measure(benchmark, run, group=group)


def group_of(size, what):
    return f"tensorflow {size_id(size)} {what}"


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_copy_floor(benchmark, size):
    """A large copy: reads and writes x once, the streaming bandwidth."""
    x = operands(size)[0]
    measure(benchmark, lambda: tf.raw_ops.DeepCopy(x=x), group=group_of(size, "floors"), bytes=2 * x.numpy().nbytes)


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_read_floor(benchmark, size):
    """tf.reduce_sum(x): reads x once and writes nothing, on every core: no
    pass that reads x can beat it (the floor of a reduced forward)."""
    x = operands(size)[0]
    measure(benchmark, lambda: tf.reduce_sum(x), group=group_of(size, "floors"))


@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_tape_fill(benchmark, size):
    """tf.ones_like(x): the gradient a tape starts from when it differentiates
    a y of x's size (training_step passes none), an x-sized write that every
    implementation's training step pays, and no floor counts."""
    x = operands(size)[0]
    measure(benchmark, lambda: tf.ones_like(x), group=group_of(size, "floors"))


@pytest.mark.parametrize("pass_", ["forward", "training_step"])
@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_one_tf_add(benchmark, size, pass_):
    """tf.add(x, kernel) in eager mode, alone and under a tape."""
    x, kernel, bias = operands(size)
    if pass_ == "forward":
        run = lambda: one_add(x, kernel, bias)
    else:
        run = lambda: training_step(one_add, x, kernel, bias, None, None)
    measure(benchmark, run, group=group_of(size, f"{pass_} tf.add"))


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("reduce_axis", REDUCE_AXES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("pass_", ["forward", "training_step"])
@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_spatial_dense(benchmark, size, pass_, activation, reduce_axis, implementation):
    time_pass(
        benchmark,
        IMPLEMENTATIONS[implementation],
        pass_,
        *operands(size),
        activation,
        reduce_axis,
        group_of(size, f"{pass_} {activation} reduce={reduce_axis}"),
    )


# Half types at the largest size, fused only: against the float32 rows of
# test_spatial_dense (same element count), the time per element (target:
# no more than float32's, having half the bytes to move).
HALF_SIZE = LARGE  # also the size every activation runs at, below


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("reduce_axis", REDUCE_AXES, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("pass_", ["forward", "training_step"])
@pytest.mark.parametrize("size", [HALF_SIZE], ids=size_id)
def test_fused_half_types(benchmark, size, pass_, activation, reduce_axis, dtype):
    x, kernel, bias = operands(size, getattr(tf, dtype))
    group = group_of(size, f"{pass_} {activation} reduce={reduce_axis} half types")
    time_pass(benchmark, spatial_ops.spatial_dense, pass_, x, kernel, bias, activation, reduce_axis, group)


# Every fused activation at the largest size, fused only: the targets hold
# for each (the peers above run relu and gelu).
EVERY_ACTIVATION = dict(every_activation())


@pytest.mark.parametrize("reduce_axis", REDUCE_AXES, ids=str)
@pytest.mark.parametrize("table_row", list(EVERY_ACTIVATION))
@pytest.mark.parametrize("pass_", ["forward", "training_step"])
@pytest.mark.parametrize("size", [HALF_SIZE], ids=size_id)
def test_fused_every_activation(benchmark, size, pass_, table_row, reduce_axis):
    group = group_of(size, f"{pass_} reduce={reduce_axis} every activation")
    time_pass(
        benchmark, spatial_ops.spatial_dense, pass_, *operands(size), EVERY_ACTIVATION[table_row], reduce_axis, group
    )
