"""What every benchmark shares: the one timing helper (pytest-benchmark
around the whole call, as a user makes it), the activations the suites
cover, and the floors benchmarks/report.py divides by.

A benchmark module times its peers as parametrised cases of one group, so
pytest-benchmark's JSON holds them side by side; benchmarks/report.py runs
each module in the process environments it needs (a Keras backend, a CPU
allocator, a CPU build) and renders the JSON into tables and plots."""

import os
import resource
import statistics

from spatial_ops import Activation
from spatial_ops.testing.activation_catalogue import CATALOGUE

# CI's smoke run (tiny sizes, one call: the suites must run, speed is not judged).
QUICK = os.environ.get("SPATIAL_OPS_BENCH_QUICK") == "1"
# The largest size of a full run: a layer whose tensors are far larger than
# any cache, at the memory-bound limit; the smaller one is a model's layer.
LARGE = (4, 6, 5) if QUICK else (1024, 256, 256)
LAYER = (4, 6, 5) if QUICK else (256, 128, 128)


def size_id(size):
    return "x".join(map(str, size))


def every_activation():
    """(table row, activation as a user passes it): the catalogue's first
    entry for each row of the kernels' activation table, in the rows' order."""
    first = {}
    for case in CATALOGUE:
        first.setdefault(case.table_row, case)
    return [(table_row, first[table_row].user_form(Activation)) for table_row in sorted(first)]


def _minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(benchmark, run, *, group, rounds=None, warmup=1, count_faults=True, **info):
    """Times run(), which must return only once its result is ready (block
    on JAX's asynchronous dispatch inside it), with pytest-benchmark.

    warmup: untimed calls first (tracing, compilation, first touch); 0 times
    a process' first call. rounds: None lets pytest-benchmark calibrate
    (rounds of several calls each for fast calls: the time per call, the
    host overhead at tiny sizes); a number times exactly that many calls.
    benchmark.group is `group`; extra_info holds `info` and, with
    count_faults, the median minor page faults per timed call (getrusage,
    every thread of the process)."""
    for _ in range(warmup):
        run()
    benchmark.group = group
    benchmark.extra_info.update(info)
    faults = []

    def counted():
        before = _minor_faults()
        run()
        faults.append(_minor_faults() - before)

    target = counted if count_faults else run
    if rounds is None:
        benchmark(target)
    else:
        benchmark.pedantic(target, rounds=rounds, iterations=1)
    if faults:
        benchmark.extra_info["minor_faults"] = statistics.median(faults)


def x_units_moved(size, pass_, reduce_axis):
    """The bytes a pass must move, in units of x: a forward reads x and
    writes y; a training step also reads dy and x again and writes dx."""
    out = 1.0 / size[-1] if reduce_axis == -1 else 1.0  # y relative to x
    return 1 + out if pass_ == "forward" else (1 + out) + (out + 2)


def floor_seconds(size, pass_, reduce_axis, copy_seconds):
    """The pass' bytes over the bandwidth of a copy of x, which moves 2 x."""
    return copy_seconds * x_units_moved(size, pass_, reduce_axis) / 2
