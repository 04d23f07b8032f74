"""Every fused activation against the XLA composite, as a user runs them:
forward, training step and reduced forward at the largest size, with each
of TensorFlow's CPU allocators, the minor page faults of each call beside
its time.

    .venv/bin/python benchmarks/against_xla.py [--isa avx2] [--size 1024 256 256]
                                               [--activations relu gelu ...]

--isa forces a narrower CPU build of the kernels (SPATIAL_OPS_CPU_ISA) and
caps XLA's code generation at the same instruction set (XLA_FLAGS=
--xla_cpu_max_isa), so one machine reports the rows of a narrower CPU.

Each allocator of benchmarks/tf_allocators.py runs in its own process.

Implementations take turns call by call, so both see the same machine
state; times are medians over --rounds calls after one untimed call
(tracing and XLA compilation), faults getrusage's ru_minflt around each call
(all threads), also medians. The training step is the layer's part of a model's
step: the forward, whose y the next layer would read, and the gradients of
x, kernel and bias for a dy the next layer would send (a held tensor). XLA
compiles the composite's forward and, for the tape, its gradient. (A lone
layer's step compiled whole is no model's step: XLA drops y, which nothing
there reads, and fuses the gradient into the forward, which a dy that
depends on y forbids.)
Prints a markdown table; 'vs XLA' is XLA's time over the fused time.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tf_allocators import ALLOCATORS  # noqa: E402

PASSES = ("forward", "training step", "reduced forward")
IMPLEMENTATIONS = ("fused", "xla")
XLA_ISA_NAMES = {"avx2": "AVX2", "avx512": "AVX512", "baseline": "AVX"}


def measure(size, activation_names, rounds):
    """Child: {activation: {pass: {implementation: (ms, faults)}}}, the CPU build's name."""
    import resource
    import time

    import numpy as np
    import tensorflow as tf
    from activation_rows import every_activation

    import spatial_ops
    from spatial_ops import _core

    activations = dict(every_activation())
    rng = np.random.default_rng(0)
    x, kernel, bias = (tf.constant(rng.normal(size=shape).astype(np.float32)) for shape in (size, size[1:], size[1:]))

    dy = tf.constant(rng.normal(size=size).astype(np.float32))
    xla = tf.function(spatial_ops.reference.spatial_dense, jit_compile=True, reduce_retracing=True)
    functions = {"fused": spatial_ops.spatial_dense, "xla": xla}

    def run(pass_, implementation, activation):
        fn = functions[implementation]
        if pass_ != "training step":
            return fn(x, kernel, bias, activation=activation, reduce_axis=-1 if pass_ == "reduced forward" else None)
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            y = fn(x, kernel, bias, activation=activation)
        return y, tape.gradient(y, [x, kernel, bias], output_gradients=dy)

    def one_call(pass_, implementation, activation):
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        start = time.perf_counter()
        result = run(pass_, implementation, activation)
        del result
        return (time.perf_counter() - start) * 1e3, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults

    results = {}
    for name in activation_names:
        results[name] = {}
        for pass_ in PASSES:
            for implementation in IMPLEMENTATIONS:
                run(pass_, implementation, activations[name])  # trace, compile, first touch
            calls = {implementation: [] for implementation in IMPLEMENTATIONS}
            for _ in range(rounds):
                for implementation in IMPLEMENTATIONS:
                    calls[implementation].append(one_call(pass_, implementation, activations[name]))
            results[name][pass_] = {
                implementation: tuple(float(np.median(v)) for v in zip(*c)) for implementation, c in calls.items()
            }
    return results, _core.active_cpu_isa()


def run_child(allocator, size, activation_names, rounds, isa):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **ALLOCATORS[allocator])
    if isa:
        env["SPATIAL_OPS_CPU_ISA"] = isa
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_cpu_max_isa={XLA_ISA_NAMES[isa]}".strip()
    command = [
        sys.executable,
        __file__,
        "--child",
        "--size",
        *map(str, size),
        "--rounds",
        str(rounds),
        "--activations",
        *activation_names,
    ]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _ms(ms):
    return f"{ms:.2f}" if ms < 10 else f"{ms:.1f}"


def table(size, activation_names, rounds=7, isa=None, allocators=tuple(ALLOCATORS)):
    measured = {allocator: run_child(allocator, size, activation_names, rounds, isa) for allocator in allocators}
    builds = sorted({build for _, build in measured.values()})
    lines = [
        f"x {'x'.join(map(str, size))} float32, CPU build {', '.join(builds)}"
        f"{f', XLA capped at {XLA_ISA_NAMES[isa]}' if isa else ''}; ms and minor page faults per call, "
        f"medians of {rounds}:\n",
        "| allocator | activation | pass | fused ms | XLA ms | vs XLA | fused faults | XLA faults |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for allocator, (results, _) in measured.items():
        for name in activation_names:
            for pass_ in PASSES:
                (fused_ms, fused_faults), (xla_ms, xla_faults) = (results[name][pass_][i] for i in IMPLEMENTATIONS)
                lines.append(
                    f"| {allocator} | {name} | {pass_} | {_ms(fused_ms)} | {_ms(xla_ms)} | "
                    f"{xla_ms / fused_ms:.2f}x | {fused_faults:.0f} | {xla_faults:.0f} |"
                )
    return "\n".join(lines) + "\n"


def main():
    from activation_rows import every_activation

    every = [name for name, _ in every_activation()]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, nargs="+", default=[1024, 256, 256])
    parser.add_argument("--activations", nargs="+", default=every, choices=every)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--isa", choices=sorted(XLA_ISA_NAMES), help="force this CPU build (and cap XLA at it)")
    parser.add_argument("--allocators", nargs="+", default=list(ALLOCATORS), choices=list(ALLOCATORS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(tuple(args.size), args.activations, args.rounds)))
    else:
        print(table(tuple(args.size), args.activations, args.rounds, args.isa, tuple(args.allocators)))


if __name__ == "__main__":
    main()
