"""Which activations run inside the fused op, and with which parameters.

Every element-wise Keras 3 activation maps to a row of the C++ activation table
(csrc/core/activation_table.h). Parameterised forms are reached with a
functools.partial of the Keras function or with `Activation("elu", alpha=0.3)`.
Anything else is a plain callable, applied after the fused affine op.
"""

import dataclasses
import functools
import inspect
import math
from typing import Callable, Optional, Tuple

import keras
import numpy as np
from keras import activations as keras_activations


@dataclasses.dataclass(frozen=True)
class _Fusable:
    table_row: str
    param_names: Tuple[str, ...] = ()  # Keras keyword arguments, in C++ order

    def table_entry(self, arguments):
        """(C++ table row, parameters) for the bound Keras arguments."""
        return self.table_row, tuple(_as_param(arguments[n], n) for n in self.param_names)


class _Gelu(_Fusable):
    def table_entry(self, arguments):
        return ("gelu_tanh" if arguments["approximate"] else "gelu"), ()


def _float32(value):
    return float(np.float32(value))


class _LeakyRelu(_Fusable):
    # tf.nn.leaky_relu holds its slope in a float32 attribute.
    def table_entry(self, arguments):
        return "leaky_relu", (_float32(_as_param(arguments["negative_slope"], "negative_slope")),)


class _Relu(_Fusable):
    # keras' relu: tf.nn.relu with the defaults, tf.nn.leaky_relu with only a
    # slope, else the general form (a row of its own keeps plain relu branch-free).
    def table_entry(self, arguments):
        slope, max_value, threshold = (arguments[n] for n in self.param_names)
        if slope == 0 and max_value is None and threshold == 0:
            return "relu", ()
        if max_value is None and threshold == 0:
            return _LeakyRelu("leaky_relu").table_entry(arguments)
        return super().table_entry(arguments)


_FUSABLE = {
    keras_activations.linear: _Fusable("linear"),
    keras_activations.relu: _Relu("relu_general", ("negative_slope", "max_value", "threshold")),
    keras_activations.relu6: _Fusable("relu6"),
    keras_activations.leaky_relu: _LeakyRelu("leaky_relu"),
    keras_activations.elu: _Fusable("elu", ("alpha",)),
    keras_activations.celu: _Fusable("celu", ("alpha",)),
    keras_activations.selu: _Fusable("selu"),
    keras_activations.gelu: _Gelu("gelu"),
    keras_activations.sigmoid: _Fusable("sigmoid"),
    keras_activations.hard_sigmoid: _Fusable("hard_sigmoid"),
    keras_activations.log_sigmoid: _Fusable("log_sigmoid"),
    keras_activations.sparse_sigmoid: _Fusable("sparse_sigmoid"),
    keras_activations.tanh: _Fusable("tanh"),
    keras_activations.hard_tanh: _Fusable("hard_tanh"),
    keras_activations.tanh_shrink: _Fusable("tanh_shrink"),
    keras_activations.hard_shrink: _Fusable("hard_shrink", ("threshold",)),
    keras_activations.soft_shrink: _Fusable("soft_shrink", ("threshold",)),
    keras_activations.softplus: _Fusable("softplus"),
    keras_activations.sparse_plus: _Fusable("sparse_plus"),
    keras_activations.squareplus: _Fusable("squareplus", ("b",)),
    keras_activations.softsign: _Fusable("softsign"),
    keras_activations.silu: _Fusable("silu"),
    keras_activations.hard_silu: _Fusable("hard_silu"),
    keras_activations.mish: _Fusable("mish"),
    keras_activations.exponential: _Fusable("exponential"),
    keras_activations.threshold: _Fusable("threshold", ("threshold", "default_value")),
}

# Keras names (aliases included) whose activation runs inside the fused op.
FUSED_ACTIVATION_NAMES = tuple(sorted([fn.__name__ for fn in _FUSABLE] + ["swish", "hard_swish"]))


@dataclasses.dataclass(frozen=True)
class ResolvedActivation:
    """table_row is the row of the C++ activation table (None: not fusable),
    params its parameters; fn is the Keras math."""

    table_row: Optional[str]
    params: Tuple[float, ...]
    fn: Callable


@keras.saving.register_keras_serializable(package="spatial_ops")
class Activation:
    """A Keras activation with non-default parameters, fused like the defaults.

    >>> Activation("leaky_relu", negative_slope=0.1)
    >>> Activation("gelu", approximate=True)
    """

    def __init__(self, name, **params):
        self.name = name
        self.params = dict(params)
        self.function = keras_activations.get(name)
        resolve(self)  # refuse unknown parameters now, not at the first call

    def __call__(self, x):
        return self.function(x, **self.params)

    def __repr__(self):
        args = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{args})"

    def get_config(self):
        return {"name": self.name, **self.params}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _function_and_kwargs(identifier):
    if isinstance(identifier, Activation):
        return identifier.function, identifier.params
    if isinstance(identifier, functools.partial) and not identifier.args and identifier.func in _FUSABLE:
        return identifier.func, dict(identifier.keywords)
    fn = keras_activations.get(identifier)
    if isinstance(fn, Activation):
        return fn.function, fn.params
    return fn, {}


def _as_param(value, name):
    if value is None:  # relu's max_value=None: no upper bound
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"activation parameter {name} must be a number, got {value!r}")
    return float(value)


def resolve(identifier) -> ResolvedActivation:
    """Maps None, a name, a Keras function, a partial or an Activation to its
    row of the C++ activation table and parameters; other callables come back unfused.
    Memoised for hashable identifiers: an eager call on a tiny tensor would
    otherwise spend most of its time here."""
    try:
        return _resolve_cached(identifier)
    except TypeError:  # unhashable, e.g. a dict config
        return _resolve(identifier)


@functools.lru_cache(maxsize=256)
def _resolve_cached(identifier):
    return _resolve(identifier)


def resolve_uncached(identifier) -> ResolvedActivation:
    """resolve without the memo, for tracers that warn about caches
    (torch.compile: it traces through them anyway)."""
    return _resolve(identifier)


def _resolve(identifier):
    fn, kwargs = _function_and_kwargs(identifier)
    reference = functools.partial(fn, **kwargs) if kwargs else fn
    fusable = _FUSABLE.get(fn)
    if fusable is None:
        return ResolvedActivation(None, (), reference)
    try:
        bound = inspect.signature(fn).bind(None, **kwargs)
    except TypeError as error:
        raise ValueError(f"activation {fn.__name__}: {error}") from None
    bound.apply_defaults()
    table_row, params = fusable.table_entry(bound.arguments)
    return ResolvedActivation(table_row, params, reference)
