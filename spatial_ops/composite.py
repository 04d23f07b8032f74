"""The layer's math as plain keras.ops, on every Keras backend: what
SpatialDense runs with fused=False, and what every spatial_ops layer and op
traces as inside spatial_ops.portable() (exports for runtimes that do not
have spatial_ops: TF Serving without it, LiteRT, ONNX Runtime).

Every op here has a builtin in TensorFlow's LiteRT converter and a handler
in tf2onnx. Keras' own exact gelu and celu do not (tf2onnx has no Erfc and no
Expm1), so those two are written with erf and exp: the same functions,
rounded differently by about one unit in the last place.
"""

import math

import keras
from keras import ops

from . import _shapes
from .activations import resolve


def _gelu_with_erf(z):
    return 0.5 * z * (1.0 + ops.erf(z * math.sqrt(0.5)))


def _celu_with_exp(alpha):
    def celu(z):
        return ops.maximum(z, 0.0) + alpha * (ops.exp(ops.minimum(z, 0.0) / alpha) - 1.0)

    return celu


_HALF_DTYPES = ("float16", "bfloat16")

# Table row -> the activation with its parameters, for rows whose Keras form
# does not convert everywhere.
_CONVERTIBLE_FORMS = {
    "gelu": lambda params: _gelu_with_erf,
    "celu": lambda params: _celu_with_exp(params[0]),
}


def activation_function(activation):
    """The keras.ops function for an activation identifier (as resolve takes)."""
    resolved = resolve(activation)
    convertible = _CONVERTIBLE_FORMS.get(resolved.table_row)
    return resolved.fn if convertible is None else convertible(resolved.params)


def spatial_dense(x, kernel, bias=None, *, activation=None, reduce_axis=None, reduction="sum"):
    """reduce(activation(x * kernel + bias)) with keras.ops, for any backend's
    tensors; kernel and bias broadcast to x's spatial shape x.shape[1:].
    Half types are computed in float32 and rounded once at the end, as the
    fused kernels do: float16 ops alone would round every step, and
    exp(z) - 1 in float16 loses all but a few bits of a small elu."""
    x = ops.convert_to_tensor(x)
    axes = _shapes.normalize_reduce_axes(reduce_axis, len(x.shape))
    _shapes.check_reduction(reduction)
    for weight, name in ((kernel, "kernel"), (bias, "bias")):
        if weight is not None:
            _shapes.check_broadcastable(tuple(weight.shape), tuple(x.shape[1:]), name, tuple(x.shape))
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in _HALF_DTYPES:
        x, kernel, bias = (None if t is None else ops.cast(t, "float32") for t in (x, kernel, bias))
    z = x * kernel
    if bias is not None:
        z = z + bias
    y = activation_function(activation)(z)
    if axes:
        y = (ops.sum if reduction == "sum" else ops.mean)(y, axis=axes)
    return ops.cast(y, dtype) if dtype in _HALF_DTYPES else y
