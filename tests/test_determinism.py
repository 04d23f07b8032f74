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
            loss = tf.reduce_sum(spatial_ops.spatial_dense(x, kernel, bias, activation="mish",
                                                           reduce_axis=-1) ** 2)
        return [g.numpy() for g in tape.gradient(loss, [x, kernel, bias])]

    first = grads()
    for _ in range(3):
        for a, b in zip(first, grads()):
            np.testing.assert_array_equal(a, b)


def test_one_and_two_intra_op_threads_agree_bitwise():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    digests = [
        subprocess.run([sys.executable, str(PROBE), str(threads)], env=env, check=True,
                       capture_output=True, text=True, timeout=300).stdout.split()[-1]
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
        digests[isa] = subprocess.run([sys.executable, str(PROBE), "2"], env=env, check=True,
                                      capture_output=True, text=True, timeout=300).stdout.split()[-1]
    assert len(set(digests.values())) == 1, digests
