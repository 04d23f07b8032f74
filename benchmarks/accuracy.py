"""How far each transcendental activation lands from the exact value, in
float32 ulps: the fused kernels (the CPU build in use; SPATIAL_OPS_CPU_ISA=
avx2 forces that one), Keras' activation under XLA (jit_compile=True, the
composite's activation) and in TensorFlow's own kernels (eager).

    .venv/bin/python benchmarks/accuracy.py [--step 7]

x is every --step-th float32 from 2^-14 to 12 in magnitude, both signs; the
fused op runs with kernel 1 and bias 0, so that z is x exactly. The exact
value is the activation in float64 (NumPy and SciPy, in forms that do not
cancel); an ulp is the spacing of float32 at the exact value, and results
below float32's normal range are left out. What the speed of XLA's tanh
costs in accuracy is the figure here: the kernels hold tanh to the 2 ulps
that tests/test_float_math.py asserts.
Prints a markdown table; benchmarks/report.py puts it in BENCHMARKS.md.
"""

import argparse

import numpy as np
import tensorflow as tf
from harness import every_activation
from scipy import special

from spatial_ops import _core
from spatial_ops.activations import resolve


def _gelu_tanh(x):
    # 0.5 x (1 + tanh(u)) = x sigmoid(2u): no cancellation for negative x.
    return x * special.expit(2 * np.sqrt(2 / np.pi) * (x + 0.044715 * x**3))


EXACT = {
    "tanh": np.tanh,
    "sigmoid": special.expit,
    "silu": lambda x: x * special.expit(x),
    "exponential": np.exp,
    "gelu": lambda x: 0.5 * x * special.erfc(-x / np.sqrt(2)),
    "gelu_tanh": _gelu_tanh,
    "softplus": lambda x: np.logaddexp(0, x),
    "log_sigmoid": lambda x: -np.logaddexp(0, -x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "mish": lambda x: x * np.tanh(np.logaddexp(0, x)),
}


def grid(step):
    """Every step-th float32 of magnitude in [2^-14, 12], both signs."""
    low, high = (np.array(v, np.float32).view(np.int32) for v in (2.0**-14, 12.0))
    positive = np.arange(low, high, step, dtype=np.int32).view(np.float32)
    return np.concatenate([positive, -positive])


def fused(table_row, params, x):
    columns = 256
    xs = x[: x.size // columns * columns].reshape(-1, 1, 1, columns)
    ones, zeros = np.ones((1, 1, columns), np.float32), np.zeros((1, 1, columns), np.float32)
    return np.asarray(_core.forward(xs, ones, zeros, table_row, params, "none")).reshape(-1), xs.reshape(-1)


def max_ulps(got, x, exact):
    want = exact(x.astype(np.float64))
    want32 = want.astype(np.float32)
    kept = np.isfinite(want32) & (np.abs(want) >= np.finfo(np.float32).tiny)
    errors = np.abs(got[kept].astype(np.float64) - want[kept]) / np.spacing(np.abs(want32[kept])).astype(np.float64)
    worst = int(np.argmax(errors))
    return float(errors[worst]), float(x[kept][worst])


def table(step=7):
    x = grid(step)
    lines = [
        f"CPU build {_core.active_cpu_isa()}; x: every {step}th float32 of magnitude 2^-14 to 12 "
        f"({x.size:,} values); largest error in float32 ulps (at x):\n",
        "| activation | fused | XLA | TensorFlow |",
        "|---|---|---|---|",
    ]
    activations = dict(every_activation())
    for table_row, exact in EXACT.items():
        resolved = resolve(activations[table_row])
        ours, xs = fused(table_row, list(resolved.params), x)
        keras_fn = resolved.fn
        cells = [max_ulps(ours, xs, exact)]
        for run in (tf.function(keras_fn, jit_compile=True), keras_fn):
            cells.append(max_ulps(run(tf.constant(xs)).numpy(), xs, exact))
        lines.append(f"| {table_row} | " + " | ".join(f"{e:.2f} ({at:.4g})" for e, at in cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=7)
    print(table(parser.parse_args().step))


if __name__ == "__main__":
    main()
