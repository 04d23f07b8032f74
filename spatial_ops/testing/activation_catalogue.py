"""The activations every test and benchmark runs, written once, with NumPy
alone (the GPU machines have no TensorFlow): for
each, the Keras activation a user passes, the row of the C++ activation
table and the parameters it resolves to, and the z values where it or its
derivatives jump. tests/test_activation_catalogue.py checks each entry against
spatial_ops.activations.resolve, and that every row of the table is here."""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Case:
    """keras: (name, keyword arguments) of the Keras activation; name None
    is activation=None (linear)."""

    id: str
    keras: tuple
    table_row: str
    params: tuple = ()
    kinks: tuple = ()

    def user_form(self, activation_class):
        """The activation as a user passes it: None, a Keras name, or
        activation_class(name, **kwargs) (spatial_ops.Activation, given by
        the caller: this module imports no spatial_ops)."""
        name, kwargs = self.keras
        return activation_class(name, **kwargs) if kwargs else name


def _float32(value):
    return float(np.float32(value))  # tf.nn.leaky_relu holds its slope in float32


_INF = float("inf")  # relu without max_value

CATALOGUE = (
    Case("linear", (None, {}), "linear"),
    Case("relu", ("relu", {}), "relu", kinks=(0.0,)),
    Case(
        "relu_params",
        ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": 0.5}),
        "relu_general",
        (0.1, 4.0, 0.5),
        (0.5, 4.0),
    ),
    Case("relu_max6", ("relu", {"max_value": 6.0}), "relu_general", (0.0, 6.0, 0.0), (0.0, 6.0)),
    Case("relu6", ("relu6", {}), "relu6", kinks=(0.0, 6.0)),
    Case("leaky_relu", ("leaky_relu", {}), "leaky_relu", (_float32(0.2),), (0.0,)),
    Case("leaky_relu_0.05", ("leaky_relu", {"negative_slope": 0.05}), "leaky_relu", (_float32(0.05),), (0.0,)),
    Case("elu", ("elu", {}), "elu", (1.0,), (0.0,)),
    Case("elu_0.3", ("elu", {"alpha": 0.3}), "elu", (0.3,), (0.0,)),
    Case("celu", ("celu", {}), "celu", (1.0,), (0.0,)),
    Case("celu_1.7", ("celu", {"alpha": 1.7}), "celu", (1.7,), (0.0,)),
    Case("selu", ("selu", {}), "selu", kinks=(0.0,)),
    Case("gelu", ("gelu", {}), "gelu"),
    Case("gelu_tanh", ("gelu", {"approximate": True}), "gelu_tanh"),
    Case("sigmoid", ("sigmoid", {}), "sigmoid"),
    Case("hard_sigmoid", ("hard_sigmoid", {}), "hard_sigmoid", kinks=(-3.0, 3.0)),
    Case("log_sigmoid", ("log_sigmoid", {}), "log_sigmoid"),
    Case("sparse_sigmoid", ("sparse_sigmoid", {}), "sparse_sigmoid", kinks=(-1.0, 1.0)),
    Case("tanh", ("tanh", {}), "tanh"),
    Case("hard_tanh", ("hard_tanh", {}), "hard_tanh", kinks=(-1.0, 1.0)),
    Case("tanh_shrink", ("tanh_shrink", {}), "tanh_shrink"),
    Case("hard_shrink", ("hard_shrink", {}), "hard_shrink", (0.5,), (-0.5, 0.5)),
    Case("hard_shrink_1.5", ("hard_shrink", {"threshold": 1.5}), "hard_shrink", (1.5,), (-1.5, 1.5)),
    Case("soft_shrink", ("soft_shrink", {}), "soft_shrink", (0.5,), (-0.5, 0.5)),
    Case("softplus", ("softplus", {}), "softplus"),
    Case("sparse_plus", ("sparse_plus", {}), "sparse_plus", kinks=(-1.0, 1.0)),
    Case("squareplus", ("squareplus", {}), "squareplus", (4.0,)),
    Case("squareplus_0.5", ("squareplus", {"b": 0.5}), "squareplus", (0.5,)),
    Case("softsign", ("softsign", {}), "softsign", kinks=(0.0,)),
    Case("silu", ("silu", {}), "silu"),
    Case("swish", ("swish", {}), "silu"),
    Case("hard_silu", ("hard_silu", {}), "hard_silu", kinks=(-3.0, 3.0)),
    Case("hard_swish", ("hard_swish", {}), "hard_silu", kinks=(-3.0, 3.0)),
    Case("mish", ("mish", {}), "mish"),
    Case("exponential", ("exponential", {}), "exponential"),
    Case("threshold", ("threshold", {"threshold": 0.2, "default_value": -1.5}), "threshold", (0.2, -1.5), (0.2,)),
    # The other parameter patterns of relu and celu (a negative alpha makes
    # celu's exponent positive), each its own kernel form (last, so that the
    # slices some tests take of this table keep their rows).
    Case("relu_threshold", ("relu", {"threshold": 0.5}), "relu_general", (0.0, _INF, 0.5), (0.5,)),
    Case(
        "relu_max_threshold",
        ("relu", {"max_value": 4.0, "threshold": 0.5}),
        "relu_general",
        (0.0, 4.0, 0.5),
        (0.5, 4.0),
    ),
    Case(
        "relu_slope_threshold",
        ("relu", {"negative_slope": 0.1, "threshold": -0.5}),
        "relu_general",
        (0.1, _INF, -0.5),
        (-0.5, 0.0),
    ),
    Case(
        "relu_slope_max",
        ("relu", {"negative_slope": 0.2, "max_value": 5.0}),
        "relu_general",
        (0.2, 5.0, 0.0),
        (0.0, 5.0),
    ),
    Case("celu_negative_alpha", ("celu", {"alpha": -0.8}), "celu", (-0.8,), (0.0,)),
)

BY_ID = {case.id: case for case in CATALOGUE}


def distinct_kernel_calls():
    """The catalogue without aliases (swish is silu): one entry per
    (table row, parameters), which is all the kernels ever see."""
    seen, distinct = set(), []
    for case in CATALOGUE:
        if (case.table_row, case.params) not in seen:
            seen.add((case.table_row, case.params))
            distinct.append(case)
    return tuple(distinct)
