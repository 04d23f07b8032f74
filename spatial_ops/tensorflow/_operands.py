"""TensorFlow operands as the fused op and the reference both take them
(tensors of one float dtype, weights that broadcast to x's spatial shape),
and the plain-TensorFlow reductions both apply, so that both raise the same
ValueError for the same bad input. The framework-free checks: _shapes.py."""

import tensorflow as tf

from .. import _shapes

# A set: DType's == runs in Python, a set lookup hashes once.
SUPPORTED_DTYPES = frozenset(tf.as_dtype(name) for name in _shapes.DTYPE_NAMES)


def _as_weight(weight, dtype, name, x):
    if weight is None:
        return None
    if isinstance(weight, tf.Tensor) or (hasattr(weight, "dtype") and not hasattr(weight, "__array_interface__")):
        # A tensor or variable keeps its dtype (read through any autocast scope).
        tensor = weight if isinstance(weight, tf.Tensor) else tf.convert_to_tensor(weight)
        if tensor.dtype is not dtype and tensor.dtype != dtype:
            _shapes.refuse_mixed_dtypes(dtype.name, _known(x.shape), name, tensor.dtype.name, _known(tensor.shape))
        return tensor
    return tf.convert_to_tensor(weight, dtype=dtype)  # NumPy data or Python numbers


def _known(shape):
    """A TensorShape as _shapes' messages take it: a tuple (None where a
    dimension is unknown), or None for an unknown rank."""
    return None if shape.rank is None else tuple(shape.as_list())


def has_spatial_shape(weight, spatial_dims):
    """True when weight's static shape is spatial_dims (x.shape.as_list()[1:]),
    unknown dimensions alike: plain lists compare faster than TensorShapes."""
    return weight.shape.rank is not None and weight.shape.as_list() == spatial_dims


def prepare_operands(x, kernel, bias):
    """Converts x, kernel, bias to tensors of one float dtype and checks shapes."""
    if not isinstance(x, tf.Tensor):
        x = tf.convert_to_tensor(x)
    if x.dtype not in SUPPORTED_DTYPES:
        _shapes.refuse_dtype(x.dtype.name, _known(x.shape))
    if x.shape.rank is None or x.shape.rank < 2:
        _shapes.refuse_rank(_known(x.shape))
    kernel = _as_weight(kernel, x.dtype, "kernel", x)
    bias = _as_weight(bias, x.dtype, "bias", x)
    spatial_dims = x.shape.as_list()[1:]
    for weight, name in ((kernel, "kernel"), (bias, "bias")):
        if weight is not None and not has_spatial_shape(weight, spatial_dims):
            _shapes.check_broadcastable(tuple(weight.shape), tuple(x.shape[1:]), name, tuple(x.shape))
    return x, kernel, bias


def reduce_spatial(y, axes, reduction):
    """Plain TensorFlow sum or mean of y over axes (none: y unchanged)."""
    if not axes:
        return y
    reducer = tf.reduce_sum if reduction == "sum" else tf.reduce_mean
    return reducer(y, axis=list(axes))
