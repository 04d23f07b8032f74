"""The backward sums over the batch in an order fixed by the shape: results
are bitwise identical run to run and whatever the number of threads."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from spatial_ops import _core

PROBE = Path(__file__).parent / "helpers" / "determinism_probe.py"


def test_repeated_calls_are_bitwise_identical(rng):
    x = tf.constant(rng.normal(size=(1000, 30, 40)).astype(np.float32))
    kernel, bias = (tf.constant(rng.normal(size=(30, 40)).astype(np.float32)) for _ in range(2))

    def grads():
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            loss = tf.reduce_sum(spatial_ops.spatial_dense(x, kernel, bias, activation="mish", reduce_axis=-1) ** 2)
        return [g.numpy() for g in tape.gradient(loss, [x, kernel, bias])]

    first = grads()
    for _ in range(3):
        for a, b in zip(first, grads()):
            np.testing.assert_array_equal(a, b)


def test_one_and_two_intra_op_threads_agree_bitwise():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    digests = [
        subprocess.run(
            [sys.executable, str(PROBE), str(threads)], env=env, check=True, capture_output=True, text=True, timeout=300
        ).stdout.split()[-1]
        for threads in (1, 2, 2)
    ]
    assert len(set(digests)) == 1, digests


def test_the_fma_builds_give_the_same_bits():
    """The AVX2 and AVX-512 builds run the same IEEE operations in the same
    order (FMA in both), only wider. The AVX baseline has no FMA: its math
    is checked for accuracy on its own (test_float_math.py)."""
    fma_builds = [isa for isa in _core.supported_cpu_isas() if isa in ("avx2", "avx512")]
    if len(fma_builds) < 2:
        pytest.skip(f"this CPU runs only {fma_builds} of the FMA builds")
    digests = {}
    for isa in fma_builds:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", SPATIAL_OPS_CPU_ISA=isa)
        digests[isa] = subprocess.run(
            [sys.executable, str(PROBE), "2"], env=env, check=True, capture_output=True, text=True, timeout=300
        ).stdout.split()[-1]
    assert len(set(digests.values())) == 1, digests


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16], ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("batch", [3, 64], ids=["cached", "streamed"])  # 64: x of 8 MB and more in float32
def test_outputs_in_their_inputs_buffers_give_the_same_bits(rng, dtype, batch):
    """y written into x's buffer and dx into dy's (what the TensorFlow op does
    when TensorFlow forwards a dying input) equal the results in fresh arrays."""
    shape = (batch, 128, 256)
    x, dy = (rng.normal(size=shape).astype(dtype) for _ in range(2))
    kernel, bias = (rng.normal(size=shape[1:]).astype(dtype) for _ in range(2))
    for activation in ("relu", "gelu"):
        y = _core.forward(x, kernel, bias, activation)
        in_place = x.copy()
        _core.forward(in_place, kernel, bias, activation, out=in_place)
        np.testing.assert_array_equal(in_place, y)

        dx, dkernel, dbias = _core.backward(dy, x, kernel, bias, activation)
        dx_in_dy = dy.copy()
        _, dkernel_2, dbias_2 = _core.backward(
            dx_in_dy, x, kernel, bias, activation, out=(dx_in_dy, np.empty_like(kernel), np.empty_like(bias))
        )
        for got, want in ((dx_in_dy, dx), (dkernel_2, dkernel), (dbias_2, dbias)):
            np.testing.assert_array_equal(got, want)


def test_a_graph_step_where_tensorflow_may_forward_buffers_gives_the_eager_bits(rng):
    """In a tf.function step the upstream gradient and an intermediate x die
    with the ops that read them, so TensorFlow may hand their buffers to dx
    and y; eagerly the caller holds them and it cannot. Same bits either way."""
    x0 = tf.constant(rng.normal(size=(64, 128, 256)).astype(np.float32))
    kernel, bias = (tf.constant(rng.normal(size=(128, 256)).astype(np.float32)) for _ in range(2))

    def step(x0, kernel, bias):
        with tf.GradientTape() as tape:
            tape.watch([x0, kernel, bias])
            x = x0 * 2.0  # an intermediate: its buffer can be y's in inference
            y = spatial_ops.spatial_dense(x, kernel, bias, activation="silu")
            loss = tf.reduce_sum(y * y)  # dy = 2 y, made for the backward alone
        grads = tape.gradient(loss, [x0, kernel, bias])
        inference = spatial_ops.spatial_dense(x0 * 2.0, kernel, bias, activation="silu")
        return [*grads, inference]

    eager = step(x0, kernel, bias)
    graph = tf.function(step)(x0, kernel, bias)
    for got, want in zip(graph, eager):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
