"""Checks and normalisation shared by the fused op and the reference, so both
raise the same ValueError, naming the shapes, for the same bad input."""

import tensorflow as tf

# A set: DType's == runs in Python, a set lookup hashes once.
SUPPORTED_DTYPES = frozenset((tf.float16, tf.bfloat16, tf.float32, tf.float64))
REDUCTIONS = ("sum", "mean")


def _as_weight(weight, dtype, name, x):
    if weight is None:
        return None
    if isinstance(weight, tf.Tensor) or (
            hasattr(weight, "dtype") and not hasattr(weight, "__array_interface__")):
        # A tensor or variable keeps its dtype (read through any autocast scope).
        tensor = weight if isinstance(weight, tf.Tensor) else tf.convert_to_tensor(weight)
        if tensor.dtype is not dtype and tensor.dtype != dtype:
            raise ValueError(
                f"mixed dtypes: x is {dtype.name} {x.shape} but {name} is "
                f"{tensor.dtype.name} {tensor.shape}; cast them to one dtype"
            )
        return tensor
    return tf.convert_to_tensor(weight, dtype=dtype)  # NumPy data or Python numbers


def _check_broadcastable(weight_shape, spatial_shape, name, x_shape):
    weight_shape = tf.TensorShape(weight_shape)
    if weight_shape.rank > spatial_shape.rank:
        raise ValueError(
            f"{name} shape {weight_shape} has more dimensions than x's spatial shape "
            f"{spatial_shape} (x is {x_shape}); it must broadcast to the spatial shape"
        )
    for w_dim, s_dim in zip(reversed(weight_shape.as_list()), reversed(spatial_shape.as_list())):
        if w_dim is not None and s_dim is not None and w_dim not in (1, s_dim):
            raise ValueError(
                f"{name} shape {weight_shape} does not broadcast to x's spatial shape "
                f"{spatial_shape} (x is {x_shape})"
            )


def check_broadcastable(weight_shape, spatial_shape, name="kernel"):
    """Raises ValueError unless weight_shape broadcasts to spatial_shape."""
    spatial_shape = tf.TensorShape(spatial_shape)
    _check_broadcastable(weight_shape, spatial_shape, name, tf.TensorShape([None]) + spatial_shape)


def has_spatial_shape(weight, spatial_dims):
    """True when weight's static shape is spatial_dims (x.shape.as_list()[1:]),
    unknown dimensions alike: plain lists compare faster than TensorShapes."""
    return weight.shape.rank is not None and weight.shape.as_list() == spatial_dims


def prepare_operands(x, kernel, bias):
    """Converts x, kernel, bias to tensors of one float dtype and checks shapes."""
    if not isinstance(x, tf.Tensor):
        x = tf.convert_to_tensor(x)
    if x.dtype not in SUPPORTED_DTYPES:
        raise ValueError(
            f"x has dtype {x.dtype.name} (shape {x.shape}); supported dtypes are "
            "float16, bfloat16, float32 and float64"
        )
    if x.shape.rank is None or x.shape.rank < 2:
        raise ValueError(
            f"x must have a known rank >= 2, (batch, d1, ..., dk), got shape {x.shape}"
        )
    kernel = _as_weight(kernel, x.dtype, "kernel", x)
    bias = _as_weight(bias, x.dtype, "bias", x)
    spatial_dims = x.shape.as_list()[1:]
    for weight, name in ((kernel, "kernel"), (bias, "bias")):
        if weight is not None and not has_spatial_shape(weight, spatial_dims):
            _check_broadcastable(weight.shape, x.shape[1:], name, x.shape)
    return x, kernel, bias


def normalize_reduce_axes(reduce_axis, rank):
    """reduce_axis (None, int or ints; negative counts from the end) as a sorted
    tuple of positive axes of an input of this rank; the batch axis 0 is refused."""
    if reduce_axis is None:
        return ()
    axes = (reduce_axis,) if isinstance(reduce_axis, int) else tuple(reduce_axis)
    normalized = []
    for axis in axes:
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"reduce_axis must be ints, got {reduce_axis!r}")
        if not -rank <= axis < rank:
            raise ValueError(
                f"reduce_axis {axis} is out of range for an input of rank {rank} "
                f"(valid: {-rank + 1}..{rank - 1}, batch axis 0 excluded)"
            )
        axis %= rank
        if axis == 0:
            raise ValueError(
                f"reduce_axis {reduce_axis!r} includes axis 0, the batch axis, which is never "
                "reduced; reduce spatial axes 1..rank-1 (or negative axes) only"
            )
        if axis in normalized:
            raise ValueError(f"reduce_axis {reduce_axis!r} names axis {axis} twice")
        normalized.append(axis)
    return tuple(sorted(normalized))


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")


def reduce_spatial(y, axes, reduction):
    """Plain TensorFlow sum or mean of y over axes (none: y unchanged)."""
    if not axes:
        return y
    reducer = tf.reduce_sum if reduction == "sum" else tf.reduce_mean
    return reducer(y, axis=list(axes))
