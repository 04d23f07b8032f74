"""What the GPU tests share, importable without TensorFlow (the GPU machines
have none): the CPU tests' per-dtype tolerances, the activation catalogue at
the kernels' level (table row, parameters, kinks), operands drawn away from
the kinks, and the comparison with the float64 reference."""

import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: criteria.py
import criteria  # noqa: E402


TOLERANCES = criteria.TOLERANCES
DTYPES = ("float64", "float32", "bfloat16", "float16")


@dataclasses.dataclass(frozen=True)
class Case:
    """A row of the kernels' activation table with its parameters, the z
    values where it or its derivatives jump, and the Keras activation it
    stands for (name, keyword arguments)."""

    id: str
    row: str
    params: tuple = ()
    kinks: tuple = ()
    keras: tuple = ("linear", {})


def _float32(value):
    return float(np.float32(value))


# The cases of tests/support.py's ACTIVATIONS, as the kernels receive them.
CASES = (
    Case("linear", "linear", keras=("linear", {})),
    Case("relu", "relu", kinks=(0.0,), keras=("relu", {})),
    Case("relu_params", "relu_general", (0.1, 4.0, 0.5), (0.5, 4.0),
         ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 0.5})),
    Case("relu_max6", "relu_general", (0.0, 6.0, 0.0), (0.0, 6.0), ("relu", {"max_value": 6.0})),
    Case("relu6", "relu6", kinks=(0.0, 6.0), keras=("relu6", {})),
    Case("leaky_relu", "leaky_relu", (_float32(0.2),), (0.0,), ("leaky_relu", {})),
    Case("leaky_relu_0.05", "leaky_relu", (_float32(0.05),), (0.0,), ("leaky_relu", {"negative_slope": 0.05})),
    Case("elu", "elu", (1.0,), (0.0,), ("elu", {})),
    Case("elu_0.3", "elu", (0.3,), (0.0,), ("elu", {"alpha": 0.3})),
    Case("celu", "celu", (1.0,), (0.0,), ("celu", {})),
    Case("celu_1.7", "celu", (1.7,), (0.0,), ("celu", {"alpha": 1.7})),
    Case("selu", "selu", kinks=(0.0,), keras=("selu", {})),
    Case("gelu", "gelu", keras=("gelu", {})),
    Case("gelu_tanh", "gelu_tanh", keras=("gelu", {"approximate": True})),
    Case("sigmoid", "sigmoid", keras=("sigmoid", {})),
    Case("hard_sigmoid", "hard_sigmoid", kinks=(-3.0, 3.0), keras=("hard_sigmoid", {})),
    Case("log_sigmoid", "log_sigmoid", keras=("log_sigmoid", {})),
    Case("sparse_sigmoid", "sparse_sigmoid", kinks=(-1.0, 1.0), keras=("sparse_sigmoid", {})),
    Case("tanh", "tanh", keras=("tanh", {})),
    Case("hard_tanh", "hard_tanh", kinks=(-1.0, 1.0), keras=("hard_tanh", {})),
    Case("tanh_shrink", "tanh_shrink", keras=("tanh_shrink", {})),
    Case("hard_shrink", "hard_shrink", (0.5,), (-0.5, 0.5), ("hard_shrink", {})),
    Case("hard_shrink_1.5", "hard_shrink", (1.5,), (-1.5, 1.5), ("hard_shrink", {"threshold": 1.5})),
    Case("soft_shrink", "soft_shrink", (0.5,), (-0.5, 0.5), ("soft_shrink", {})),
    Case("softplus", "softplus", keras=("softplus", {})),
    Case("sparse_plus", "sparse_plus", kinks=(-1.0, 1.0), keras=("sparse_plus", {})),
    Case("squareplus", "squareplus", (4.0,), keras=("squareplus", {})),
    Case("squareplus_0.5", "squareplus", (0.5,), keras=("squareplus", {"b": 0.5})),
    Case("softsign", "softsign", kinks=(0.0,), keras=("softsign", {})),
    Case("silu", "silu", keras=("silu", {})),
    Case("hard_silu", "hard_silu", kinks=(-3.0, 3.0), keras=("hard_silu", {})),
    Case("mish", "mish", keras=("mish", {})),
    Case("exponential", "exponential", keras=("exponential", {})),
    Case("threshold", "threshold", (0.2, -1.5), (0.2,), ("threshold", {"threshold": 0.2, "default_value": -1.5})),
)

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
