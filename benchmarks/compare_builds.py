"""Two builds of spatial_ops side by side: the same kernels through _core on
one thread, in cache, each build in its own processes, alternating, and
whether every output is bitwise the same.

    .venv/bin/python benchmarks/compare_builds.py OLD NEW [--rounds 2] [--activations relu tanh ...]

OLD and NEW are folders holding an installed `spatial_ops` package (for
example `pip install --no-deps --target /tmp/old <checkout>`). Prints
ns per element, the minimum over rounds of each process's median, and
new/old for forward and backward passes, unreduced and reduced.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys

QUICK = os.environ.get("SPATIAL_OPS_BENCH_QUICK") == "1"  # CI's smoke run
SHAPE = (2, 1, 8, 8) if QUICK else (64, 1, 128, 128)  # [B, A, R, C]: 1 Mi elements, in cache
ACTIVATIONS = ("relu", "gelu", "sigmoid", "silu", "tanh", "elu")
PARAMS = {"elu": [1.0], "celu": [1.0], "leaky_relu": [0.2]}  # the rest here take none
DTYPES = ("float32", "float16", "float64")
# name: (reduction, reduce_begin, reduce_end, backward)
PASSES = {
    "forward": ("none", 2, 3, False),
    "backward": ("none", 2, 3, True),
    "forward, sum over C": ("sum", 3, 4, False),
    "forward, sum over R": ("sum", 2, 3, False),
    "backward, sum over C": ("sum", 3, 4, True),
}


def measure(activations):
    """Child: {case: ns per element} and {case: digest of the outputs}, this build."""
    import numpy as np
    from activation_cost import median_seconds

    from spatial_ops import _core

    rng = np.random.default_rng(0)
    timings, digests = {}, {}
    for dtype in DTYPES:
        x, dy_full = (rng.normal(size=SHAPE).astype(dtype) for _ in range(2))
        kernel, bias = (rng.normal(size=SHAPE[1:]).astype(dtype) for _ in range(2))
        for activation in activations:
            params = PARAMS.get(activation, [])
            for name, (reduction, begin, end, backward) in PASSES.items():
                y = _core.forward(x, kernel, bias, activation, params, reduction, reduce_begin=begin, reduce_end=end)
                dy = dy_full if reduction == "none" else rng.normal(size=y.shape).astype(dtype)
                if backward:
                    run = lambda: _core.backward(
                        dy, x, kernel, bias, activation, params, reduction, reduce_begin=begin, reduce_end=end
                    )
                else:
                    run = lambda: _core.forward(
                        x, kernel, bias, activation, params, reduction, reduce_begin=begin, reduce_end=end
                    )
                key = f"{dtype} {activation} {name}"
                timings[key] = median_seconds(run, repeats=1 if QUICK else 21) * 1e9 / x.size
                outputs = run()
                digests[key] = hashlib.sha1(
                    b"".join(a.tobytes() for a in (outputs if isinstance(outputs, tuple) else (outputs,)))
                ).hexdigest()
    return timings, digests


def run_build(folder, activations):
    env = dict(os.environ, PYTHONPATH=folder, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--activations", *activations],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", nargs="?")
    parser.add_argument("new", nargs="?")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--activations", nargs="+", default=list(ACTIVATIONS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.activations)))
        return
    runs = {"old": [], "new": []}
    for _ in range(args.rounds):
        for which, folder in (("old", args.old), ("new", args.new)):
            runs[which].append(run_build(folder, args.activations))
    best = {which: {key: min(r[0][key] for r in rs) for key in rs[0][0]} for which, rs in runs.items()}
    differ = [key for key in runs["old"][0][1] if runs["old"][0][1][key] != runs["new"][0][1][key]]
    print("| case | old ns/el | new ns/el | new/old |\n|---|---|---|---|")
    for key, old in best["old"].items():
        print(f"| {key} | {old:.3f} | {best['new'][key]:.3f} | {best['new'][key] / old:.2f} |")
    print(f"\noutputs bitwise equal: {'all' if not differ else 'not ' + ', '.join(differ)}")


if __name__ == "__main__":
    main()
