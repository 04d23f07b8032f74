"""What the GPU tests share, importable without TensorFlow or Keras (the GPU
machines have neither): the CPU tests' per-dtype tolerances, the activation
catalogue as the kernels receive it (table row, parameters, kinks),
operands drawn away from the kinks, and the comparison with the float64
reference."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the helpers package
from spatial_ops.testing import activation_catalogue, criteria  # noqa: E402

TOLERANCES = criteria.TOLERANCES
DTYPES = ("float64", "float32", "bfloat16", "float16")

# The catalogue without its aliases: the kernels see swish as silu.
CASES = activation_catalogue.distinct_kernel_calls()
BY_ID = {case.id: case for case in CASES}


draw_operands = criteria.draw_operands


def assert_close(actual, expected, dtype, what="result"):
    """The CPU tests' criterion (criteria.assert_close), and the relative
    error of the whole, ||actual - expected|| / ||expected||, within the
    tolerance as well."""
    criteria.assert_close(actual, expected, dtype, what)
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    finite = np.isfinite(expected)
    tol = TOLERANCES[dtype]
    a, e = actual[finite], expected[finite]
    norm = np.linalg.norm(e)
    if norm > 0:
        assert np.linalg.norm(a - e) / norm <= tol, f"{what} ({dtype}): relative norm error"
