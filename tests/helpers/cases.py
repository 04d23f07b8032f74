"""The grid every front-end is tested on, importable without TensorFlow (the
JAX and PyTorch suites run where there is none): the activation catalogue
as users pass each activation, the reductions, the dtypes by name, and
operands drawn in a dtype. support.py gives the same to the TensorFlow tests
with TensorFlow dtypes."""

import dataclasses

import ml_dtypes
import numpy as np

from spatial_ops import Activation
from spatial_ops.testing import activation_catalogue, criteria

DTYPE_NAMES = ("float16", "bfloat16", "float32", "float64")


@dataclasses.dataclass(frozen=True)
class Case:
    """An activation as a user passes it, and the z values where it (or its
    derivative) jumps."""

    id: str
    activation: object
    kinks: tuple = ()


# The activation catalogue (activation_catalogue.py), as users pass each one.
ACTIVATIONS = tuple(Case(case.id, case.user_form(Activation), case.kinks) for case in activation_catalogue.CATALOGUE)
ACTIVATION_IDS = [case.id for case in ACTIVATIONS]

# (reduce_axis, reduction) pairs for a 3-D input, and for a 4-D input where
# runs of several axes (contiguous or not) are reduced.
REDUCTIONS_3D = ((None, "sum"), (1, "sum"), (-1, "sum"), (1, "mean"), (-1, "mean"), ((1, 2), "sum"))
REDUCTIONS_4D = (((1, 2), "sum"), ((2, 3), "mean"), ((1, 3), "sum"), ((-1, -3), "mean"), ((1, 2, 3), "sum"))


def numpy_dtype(name):
    """The NumPy dtype of a dtype name; bfloat16 is ml_dtypes'."""
    return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def draw_operands(rng, x_shape, weight_shape, dtype_name, kinks=(), use_bias=True, margin=1e-3):
    """x, kernel, bias as NumPy arrays of the dtype: criteria.draw_operands
    with every value representable in it."""
    to_dtype = numpy_dtype(dtype_name)
    rounded = lambda values: values.astype(to_dtype).astype(np.float64)
    x, kernel, bias = criteria.draw_operands(rng, x_shape, weight_shape, rounded, kinks, use_bias, margin)
    return x.astype(to_dtype), kernel.astype(to_dtype), (bias.astype(to_dtype) if use_bias else None)
