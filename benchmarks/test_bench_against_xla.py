"""Every fused activation against the XLA composite (TensorFlow,
jit_compile=True) as a user runs them: forward, training step and reduced
forward at the largest size, the minor page faults of each call beside its
time. TensorFlow picks its CPU allocator once per process, so
benchmarks/report.py runs this module once per allocator of
tf_allocators.py, and once more per narrower CPU build (SPATIAL_OPS_CPU_ISA,
with XLA capped at the same instruction set by XLA_FLAGS=--xla_cpu_max_isa),
so that one machine reports the rows of a narrower CPU.

The training step is the layer's part of a model's step: the forward, whose
y the next layer would read, and the gradients of x, kernel and bias for a
dy the next layer would send (a held tensor). XLA compiles the composite's
forward and, for the tape, its gradient. (A lone layer's step compiled whole
is no model's step: XLA drops y, which nothing there reads, and fuses the
gradient into the forward, which a dy that depends on y forbids.)"""

import functools
import os

import numpy as np
import pytest
import tensorflow as tf
from harness import LARGE, QUICK, every_activation, measure, size_id

import spatial_ops
from spatial_ops import _core

PASSES = ("forward", "training step", "reduced forward")
ACTIVATIONS = dict(every_activation()[:2] if QUICK else every_activation())
IMPLEMENTATIONS = {
    "fused": spatial_ops.spatial_dense,
    "xla": tf.function(spatial_ops.reference.spatial_dense, jit_compile=True, reduce_retracing=True),
}


@functools.lru_cache(maxsize=1)
def operands():
    rng = np.random.default_rng(0)
    return tuple(
        tf.constant(rng.normal(size=shape).astype(np.float32)) for shape in (LARGE, LARGE[1:], LARGE[1:], LARGE)
    )


def one_pass(fn, pass_, activation):
    x, kernel, bias, dy = operands()
    if pass_ != "training step":
        return fn(x, kernel, bias, activation=activation, reduce_axis=-1 if pass_ == "reduced forward" else None)
    with tf.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        y = fn(x, kernel, bias, activation=activation)
    return y, tape.gradient(y, [x, kernel, bias], output_gradients=dy)


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("pass_", PASSES)
@pytest.mark.parametrize("table_row", list(ACTIVATIONS))
def test_against_xla(benchmark, table_row, pass_, implementation):
    fn, activation = IMPLEMENTATIONS[implementation], ACTIVATIONS[table_row]
    measure(
        benchmark,
        lambda: one_pass(fn, pass_, activation),
        group=f"against XLA {size_id(LARGE)} {table_row} {pass_}",
        rounds=1 if QUICK else 5,
        allocator=os.environ.get("SPATIAL_OPS_BENCH_ALLOCATOR", "default"),
        cpu_build=_core.active_cpu_isa(),
        xla_flags=os.environ.get("XLA_FLAGS", ""),
    )
