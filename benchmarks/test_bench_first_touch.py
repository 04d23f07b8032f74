"""What a fresh output costs a user: minor page faults and time of the fused
unreduced relu forward and training step at the largest size, the first call
of a process and later calls (calls 12 to 32: on the VM behind BENCHMARKS.md
the first ten or so calls that take fresh huge pages ran 2-3 times slower
than the rest, the host backing memory the guest had not used that way
before).

benchmarks/report.py runs each test_first_call case alone in a fresh process
(with each CPU allocator of tf_allocators.py), so that its call is the
process' first; extra_info's calls_before says how many calls of the op the
process made before the timed one."""

import os

import numpy as np
import pytest
import tensorflow as tf
from harness import LARGE, QUICK, measure, size_id

import spatial_ops

_calls = [0]


def _operands():
    x, dy = tf.fill(LARGE, 0.5), tf.fill(LARGE, 1.0)
    kernel, bias = (tf.random.normal(LARGE[1:], seed=seed) for seed in (1, 2))
    return x, kernel, bias, dy


def one_pass(pass_, x, kernel, bias, dy):
    _calls[0] += 1
    if pass_ == "forward":
        return spatial_ops.spatial_dense(x, kernel, bias, activation="relu")
    with tf.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        y = spatial_ops.spatial_dense(x, kernel, bias, activation="relu")
    return tape.gradient(y, [x, kernel, bias], output_gradients=dy)


def _measure(benchmark, pass_, rounds, warmup, call):
    operands = _operands()
    np.asarray(operands[0])  # the inputs exist before the first call
    measure(
        benchmark,
        lambda: one_pass(pass_, *operands),
        group=f"first touch {size_id(LARGE)} {pass_} {call}",
        rounds=rounds,
        warmup=warmup,
        allocator=os.environ.get("SPATIAL_OPS_BENCH_ALLOCATOR", "default"),
        calls_before=_calls[0] + warmup,
        call=call,
    )


@pytest.mark.parametrize("pass_", ["forward", "training step"])
def test_first_call(benchmark, pass_):
    _measure(benchmark, pass_, rounds=1, warmup=0, call="first call")


@pytest.mark.parametrize("pass_", ["forward", "training step"])
def test_later_calls(benchmark, pass_):
    _measure(benchmark, pass_, rounds=1 if QUICK else 21, warmup=0 if QUICK else 11, call="later calls")
