"""Peak memory of one training step (forward, then gradients of x, kernel
and bias), fused against the composite peers, in units of x's size.

    .venv/bin/python benchmarks/peak_memory.py [--size 1024 256 256]

Each measurement runs in a fresh process: one warm-up step on two samples
(code paths; tf.function and XLA trace and compile again for the full
size, which costs megabytes, not tensors), then the inputs (x, kernel,
bias and the upstream gradient dy, written in place so that no freed
temporaries are left to reuse), then one step; reported is how far the
step raises the peak resident set (Linux VmHWM, restarted just before). The result y and dx are
counted: no step can do with less than those two, while the caller holds dy.

A second table measures the fused step as a training loop runs it: in a
tf.function, with dy made inside the step (as the layer above would make
it), so that dy dies with the backward and TensorFlow may hand its buffer
to dx. There dy itself is counted: y and dy are the least such a step needs.
A third table compiles the whole step with XLA (XLA_STEPS).
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMPLEMENTATIONS = ("fused", "eager", "tf.function", "xla")
DY_IN_STEP = "fused, dy made in a tf.function step"
# The whole step in one XLA program (jit_compile=True), dy an input and y
# returned: the fused op as a custom call of its kernels, and the composite
# that XLA fuses itself.
XLA_STEPS = ("fused, XLA step", "composite, XLA step")
QUICK = os.environ.get("SPATIAL_OPS_BENCH_QUICK") == "1"  # CI's smoke run
ACTIVATIONS = ("relu",) if QUICK else ("relu", "gelu")
REDUCE_AXES = (None,) if QUICK else (None, -1)


def _status_bytes(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(implementation, activation, reduce_axis, size):
    """Growth of the peak resident set during one step, in units of x."""
    import numpy as np
    import tensorflow as tf

    sys.path.insert(0, str(HERE))
    from test_bench_tensorflow import IMPLEMENTATIONS as FUNCTIONS
    from test_bench_tensorflow import one_add

    import spatial_ops

    dy_in_step = implementation == DY_IN_STEP
    xla_step = implementation in XLA_STEPS
    if xla_step:
        fn = spatial_ops.spatial_dense if implementation == XLA_STEPS[0] else spatial_ops.reference.spatial_dense
    else:
        fn = one_add if implementation == "tf.add" else FUNCTIONS["fused" if dy_in_step else implementation]

    def step(x, kernel, bias, dy):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            y = fn(x, kernel, bias, activation=activation, reduce_axis=reduce_axis)
        if dy_in_step:
            dy = 2.0 * y  # the gradient of sum(y^2): made in the step, it dies with the backward
        return y, tape.gradient(y, [x, kernel, bias], output_gradients=dy)

    if dy_in_step or xla_step:
        step = tf.function(step, jit_compile=xla_step)

    def inputs(size):
        # tf.fill writes in place: no temporaries whose freed memory the step could reuse.
        kernel, bias = (tf.random.normal(size[1:], seed=seed) for seed in (1, 2))
        return (tf.fill(size, 0.5), kernel, bias, tf.fill(size if reduce_axis is None else size[:-1], 1.0))

    step(*inputs((2, *size[1:])))  # warm-up: code paths and tracing, on two samples
    operands = inputs(size)
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # restart the peak (VmHWM) from the current resident set
    before = _status_bytes("VmRSS")
    y, gradients = step(*operands)
    assert gradients[0].shape == size
    return (_status_bytes("VmHWM") - before) / (np.prod(size) * 4)


def _child(implementation, activation, axis, size, env):
    out = subprocess.run(
        [sys.executable, __file__, "--child", implementation, activation, str(axis), "--size", *map(str, size)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.split()[-1])


def table(size):
    """The markdown table, one fresh process per cell, and the calibration."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    lines = [
        f"Training-step peak memory beyond the inputs, x = {'x'.join(map(str, size))} float32, "
        "in units of x (y and dx are 2):\n",
        "| activation | reduce_axis | " + " | ".join(IMPLEMENTATIONS) + " |",
        "| --- | --- |" + " --- |" * len(IMPLEMENTATIONS),
    ]
    for activation in ACTIVATIONS:
        for axis in REDUCE_AXES:
            cells = [f"{_child(i, activation, axis, size, env):.2f}" for i in IMPLEMENTATIONS]
            lines.append(f"| {activation} | {axis} | " + " | ".join(cells) + " |")
    lines += [
        f"\nThe fused step in a tf.function with dy made in the step ({DY_IN_STEP!r}): the peak with "
        "dy counted (unreduced, y and dy are 2), and beyond the inputs and dy (dy's size taken off: "
        "the first table's measure, where an unreduced y alone is 1 once dx takes dy's buffer):\n",
        "| activation | reduce_axis | fused, dy counted | fused, beyond the inputs and dy |",
        "| --- | --- | --- | --- |",
    ]
    for activation in ACTIVATIONS:
        for axis in REDUCE_AXES:
            peak = _child(DY_IN_STEP, activation, axis, size, env)
            dy_in_x = 1.0 if axis is None else 1.0 / size[axis]  # a reduced dy is y's size
            lines.append(f"| {activation} | {axis} | {peak:.2f} | {peak - dy_in_x:.2f} |")
    lines += [
        "\nThe step compiled whole with XLA (`tf.function(jit_compile=True)`), dy an input and y returned, "
        "beyond the inputs (y and dx are 2):\n",
        "| activation | reduce_axis | " + " | ".join(XLA_STEPS) + " |",
        "| --- | --- |" + " --- |" * len(XLA_STEPS),
    ]
    for activation in ACTIVATIONS:
        for axis in REDUCE_AXES:
            cells = [f"{_child(i, activation, axis, size, env):.2f}" for i in XLA_STEPS]
            lines.append(f"| {activation} | {axis} | " + " | ".join(cells) + " |")
    calibration = _child("tf.add", "linear", None, size, env)
    lines.append(
        f"\nCalibration: the same step of one eager `tf.add(x, kernel)`, which allocates "
        f"exactly one x (y; its dx is dy itself), measures {calibration:.2f}: what the "
        "process adds beyond the tensors themselves."
    )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs="+", default=[1024, 256, 256])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = tuple(args.size)
    if args.child:
        implementation, activation, axis = args.child
        print(measure(implementation, activation, None if axis == "None" else int(axis), size))
    else:
        print(table(size))


if __name__ == "__main__":
    main()
