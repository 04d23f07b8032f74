"""What a fresh output costs a user: minor page faults and time of the
fused unreduced forward and training step, the first call in a fresh
process and later calls, with each of TensorFlow's CPU allocators
(benchmarks/tf_allocators.py).

    .venv/bin/python benchmarks/first_touch.py [--size 1024 256 256]

Each allocator runs in its own process; faults are getrusage's ru_minflt
around the call (all threads of the process), later calls the median of
calls 12 to 32: on the VM behind BENCHMARKS.md the first ten or so calls
that take fresh huge pages ran 2-3 times slower than the rest (the host
backing memory the guest had not used that way before).
Prints a markdown table.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tf_allocators import ALLOCATORS  # noqa: E402


def measure(size):
    """Child: {pass: {"first": (faults, ms), "later": (faults, ms)}}."""
    import resource
    import time

    import numpy as np
    import tensorflow as tf

    import spatial_ops

    x, dy = tf.fill(size, 0.5), tf.fill(size, 1.0)
    kernel, bias = (tf.random.normal(size[1:], seed=seed) for seed in (1, 2))

    def forward():
        return spatial_ops.spatial_dense(x, kernel, bias, activation="relu")

    def step():
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            y = spatial_ops.spatial_dense(x, kernel, bias, activation="relu")
        return tape.gradient(y, [x, kernel, bias], output_gradients=dy)

    def one_call(fn):
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        result = fn()
        del result
        return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults, (time.perf_counter() - start) * 1e3)

    results = {}
    for name, fn in (("forward", forward), ("training step", step)):
        first = one_call(fn)
        later = [one_call(fn) for _ in range(31)][10:]
        results[name] = {"first": first, "later": tuple(float(np.median(v)) for v in zip(*later))}
    return results


def table(size):
    lines = [
        f"x {'x'.join(map(str, size))} float32, relu, unreduced; minor page faults and ms per call:\n",
        "| allocator | pass | first call faults | first call ms | later calls faults | later calls ms |",
        "|---|---|---|---|---|---|",
    ]
    for allocator, extra in ALLOCATORS.items():
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra)
        out = subprocess.run(
            [sys.executable, __file__, "--child", "--size", *map(str, size)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for name, calls in json.loads(out.strip().splitlines()[-1]).items():
            (f0, t0), (f1, t1) = calls["first"], calls["later"]
            lines.append(f"| {allocator} | {name} | {f0:.0f} | {t0:.1f} | {f1:.0f} | {t1:.1f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, nargs="+", default=[1024, 256, 256])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(tuple(args.size))))
    else:
        print(table(tuple(args.size)))


if __name__ == "__main__":
    main()
