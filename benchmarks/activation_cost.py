"""What each fused activation costs to compute, apart from memory traffic:
the CPU kernels (spatial_ops._core, the same code the op runs, on one
thread) forward and backward on an x of 4 MB float32 that stays in cache,
in nanoseconds per element, medians of repeated calls. An activation whose
forward costs more per element than the streaming floor allows per core is
compute-bound on this machine at large sizes.

    .venv/bin/python benchmarks/activation_cost.py [--dtypes float32,bfloat16,float16]

Prints a markdown table and the CPU build in use (SPATIAL_OPS_CPU_ISA=baseline|avx2
forces a narrower one); benchmarks/report.py puts it in BENCHMARKS.md.
"""

import argparse
import time

import numpy as np
import tensorflow as tf
from activation_rows import every_activation

from spatial_ops import _core
from spatial_ops.activations import resolve

SHAPE = (64, 1, 128, 128)  # [B, A, R, C]: 1 Mi elements


def median_seconds(fn, repeats=15):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def activations():
    """(table row, params), one for every row of the activation table."""
    return [(table_row, resolve(activation).params) for table_row, activation in every_activation()]


def cost(dtype, table_row, params, repeats=15):
    rng = np.random.default_rng(0)
    x, kernel, bias = (rng.normal(size=s).astype(dtype) for s in (SHAPE, SHAPE[1:], SHAPE[1:]))
    y, dy = np.empty_like(x), rng.normal(size=SHAPE).astype(dtype)
    forward = median_seconds(lambda: _core.forward(x, kernel, bias, table_row, list(params), "none", out=y), repeats)
    # Outputs preallocated, as for the forward: a fresh array per call would
    # time the page faults of its first touch (tens of ns/el on some VMs).
    gradients = (np.empty_like(x), np.empty_like(kernel), np.empty_like(bias))
    backward = median_seconds(
        lambda: _core.backward(dy, x, kernel, bias, table_row, list(params), "none", out=gradients), repeats
    )
    return forward * 1e9 / x.size, backward * 1e9 / x.size


def table(dtypes=(np.float32, tf.bfloat16.as_numpy_dtype, np.float16)):
    """The markdown table: one row per activation, forward and backward per dtype."""
    lines = [
        f"CPU build {_core.active_cpu_isa()}, x {SHAPE} per call, one thread, ns per element:\n",
        "| activation | " + " | ".join(f"{np.dtype(d).name} forward | backward" for d in dtypes) + " |",
        "|---|" + "---|---|" * len(dtypes),
    ]
    for table_row, params in activations():
        cells = []
        for dtype in dtypes:
            forward, backward = cost(dtype, table_row, params)
            cells += [f"{forward:.3f}", f"{backward:.3f}"]
        lines.append(f"| {table_row} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtypes", default="float32,bfloat16,float16")
    args = parser.parse_args()
    print(table([tf.as_dtype(d).as_numpy_dtype for d in args.dtypes.split(",")]))


if __name__ == "__main__":
    main()
