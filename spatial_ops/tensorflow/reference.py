"""The same math as the fused op written as plain TensorFlow composites: the
ground truth every fused result is tested against."""

from .. import _shapes
from ..activations import resolve
from . import _operands, _tf_compat


def spatial_dense(x, kernel, bias=None, *, activation=None, reduce_axis=None, reduction="sum"):
    """reduce(activation(x * kernel + bias)) with TensorFlow's own ops."""
    x, kernel, bias = _operands.prepare_operands(x, kernel, bias)
    axes = _shapes.normalize_reduce_axes(reduce_axis, x.shape.rank)
    _shapes.check_reduction(reduction)
    z = x * kernel
    if bias is not None:
        z = z + bias
    activation_fn = _tf_compat.reference_function(resolve(activation))
    return _operands.reduce_spatial(activation_fn(z), axes, reduction)
