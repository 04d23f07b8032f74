"""The fused op: canonicalises any input to the 4-D view the kernels take,
calls the op library, and registers the fused backward as its gradient."""

import math

import numpy as np
import tensorflow as tf

from . import _operands, _xla, reference
from ._loader import load_op_library
from .activations import resolve

_LIBRARY = load_op_library()
_forward_op = _LIBRARY.spatial_ops_spatial_dense
_backward_op = _LIBRARY.spatial_ops_spatial_dense_grad
_LINEAR = resolve(None)
_HALF_DTYPES = (tf.float16, tf.bfloat16)


def _dims(x):
    """x's dimensions: Python ints where static, int64 scalars where not."""
    dynamic = None
    dims = []
    for i, size in enumerate(x.shape.as_list()):
        if size is None:
            dynamic = tf.shape(x, out_type=tf.int64) if dynamic is None else dynamic
            size = dynamic[i]
        dims.append(size)
    return dims


def _product(dims):
    if all(isinstance(d, int) for d in dims):
        return math.prod(dims)
    return tf.reduce_prod(tf.stack([tf.cast(d, tf.int64) for d in dims]))


def _shape(dims):
    """A reshape target: an int64 array when static (converted about twice
    as fast as a list in eager mode), else a list TensorFlow stacks."""
    if all(isinstance(d, int) for d in dims):
        return np.array(dims, np.int64)
    return dims


def _fused_run(axes, dims):
    """The contiguous run of reduced axes the kernel reduces: the largest
    (static size), the last on ties. Returned as (start, stop) in x's axes."""
    runs, start = [], axes[0]
    for previous, axis in zip(axes, axes[1:] + (None,)):
        if axis != previous + 1:
            runs.append((start, previous + 1))
            start = axis
    def static_size(run):
        sizes = dims[run[0]:run[1]]
        return math.prod(sizes) if all(isinstance(d, int) for d in sizes) else math.inf
    return max(reversed(runs), key=static_size)


def _call_fused(x, dims, kernel, bias, activation, run, reduction):
    """One call of the op on the canonical view of x (dims: _dims(x));
    run=None: no reduction."""
    spatial = dims[1:]
    if run is None:
        outer, reduced, inner = 1, 1, _product(spatial)
        out_dims = dims
    else:
        start, stop = run
        outer, reduced, inner = _product(dims[1:start]), _product(dims[start:stop]), _product(dims[stop:])
        out_dims = dims[:start] + dims[stop:]
    weight_shape = [outer, reduced, inner]
    static_spatial = x.shape[1:]

    def canonical_weight(weight):
        if weight.shape != static_spatial or not static_spatial.is_fully_defined():
            # Materialised at weight size only. The gradient of broadcast_to sums
            # over the broadcast axes in the weight's dtype: for half types that
            # sum runs in float32, as the kernels' own sums do.
            if weight.dtype in _HALF_DTYPES:
                weight = tf.cast(tf.broadcast_to(tf.cast(weight, tf.float32), spatial), weight.dtype)
            else:
                weight = tf.broadcast_to(weight, spatial)
        return tf.reshape(weight, _shape(weight_shape))

    y = _forward_op(
        tf.reshape(x, _shape([dims[0]] + weight_shape)),
        canonical_weight(kernel),
        canonical_weight(bias) if bias is not None else tf.zeros([0], x.dtype),
        activation=activation.fused_name,
        activation_params=[repr(p) for p in activation.params],
        reduction="none" if run is None else reduction,
        has_bias=bias is not None,
    )
    return tf.reshape(y, _shape(out_dims))


def spatial_dense(x, kernel, bias=None, *, activation=None, reduce_axis=None, reduction="sum"):
    """y = reduce(activation(x * kernel + bias)) in one fused pass.

    x: (batch, d1, ..., dk); kernel and bias broadcast to (d1, ..., dk) (bias
    may be None); activation: None, a Keras activation name or function, a
    spatial_ops.Activation, or any callable (applied after the fused affine
    op); reduce_axis: None, an int or ints (never the batch axis 0);
    reduction: "sum" or "mean". Differentiable in x, kernel and bias.

    While traced for XLA (tf.function(jit_compile=True)), which cannot compile
    a custom op, this is spatial_ops.reference.spatial_dense: XLA fuses that
    composite itself, with the same results and gradients.
    """
    if _xla.in_xla_context():
        return reference.spatial_dense(x, kernel, bias, activation=activation,
                                       reduce_axis=reduce_axis, reduction=reduction)
    x, kernel, bias = _operands.prepare_operands(x, kernel, bias)
    axes = _operands.normalize_reduce_axes(reduce_axis, x.shape.rank)
    _operands.check_reduction(reduction)
    resolved = resolve(activation)
    dims = _dims(x)
    if resolved.fused_name is None:
        y = resolved.fn(_call_fused(x, dims, kernel, bias, _LINEAR, None, reduction))
        return _operands.reduce_spatial(y, axes, reduction)
    if not axes:
        return _call_fused(x, dims, kernel, bias, resolved, None, reduction)
    # The kernel reduces one contiguous run of axes; any others (a mean of
    # equal-sized means is the mean) are reduced by TensorFlow afterwards.
    start, stop = run = _fused_run(axes, dims)
    y = _call_fused(x, dims, kernel, bias, resolved, run, reduction)
    rest = tuple(a if a < start else a - (stop - start) for a in axes if not start <= a < stop)
    return _operands.reduce_spatial(y, rest, reduction)


_ATTRS = ("activation", "activation_params", "reduction", "has_bias", "derivative_order")


def _attrs(op):
    return {name: op.get_attr(name) for name in _ATTRS}


@tf.RegisterGradient("SpatialOps>SpatialDense")
def _spatial_dense_grad(op, dy):
    """One fused pass gives dx, dkernel, dbias (recomputing z from the inputs)."""
    return _backward_op(dy, *op.inputs, **_attrs(op))


@tf.RegisterGradient("SpatialOps>SpatialDenseGrad")
def _spatial_dense_grad_grad(op, grad_dx, grad_dkernel, grad_dbias):
    """Second order, from the fused ops run with the activation's derivative.

    With z = x k + b, g = dy spread over the reduced axis (/R for a mean),
    s = act'(z), dz = g s, the backward computed dx = dz k, dkernel = sum_b dz x,
    dbias = sum_b dz. With u = grad_dx k + grad_dkernel x + grad_dbias:
      d/d dy     = sum_r s u        (/R for a mean)
      d/d x      = g act''(z) u k + dz grad_dkernel
      d/d kernel = sum_b g act''(z) u x + sum_b dz grad_dx
      d/d bias   = sum_b g act''(z) u
    where the act''(z) terms are one fused backward pass with order 1.
    """
    attrs = _attrs(op)
    if attrs["derivative_order"] != 0:
        raise NotImplementedError(
            "spatial_ops.spatial_dense is differentiable to second order; a third derivative "
            "(the gradient of a second-order gradient) is not implemented. Use "
            "spatial_ops.reference.spatial_dense (plain TensorFlow) for higher orders."
        )
    dy, x, kernel, bias = op.inputs
    zeros_if_none = lambda grad, like: tf.zeros_like(like) if grad is None else grad
    grad_dx = zeros_if_none(grad_dx, x)
    grad_dkernel = zeros_if_none(grad_dkernel, kernel)
    reduced = attrs["reduction"] != b"none"
    mean_divisor = tf.cast(tf.shape(x)[2], x.dtype) if attrs["reduction"] == b"mean" else None
    g = tf.expand_dims(dy, 2) if reduced else dy
    if mean_divisor is not None:
        g = g / mean_divisor
    order_one = dict(attrs, reduction="none", derivative_order=1)
    s = _forward_op(x, kernel, bias, **order_one)
    u = grad_dx * kernel + grad_dkernel * x
    if attrs["has_bias"]:
        u = u + zeros_if_none(grad_dbias, bias)
    ax, akernel, abias = _backward_op(g * u, x, kernel, bias, **order_one)
    dz = g * s
    d_dy = s * u
    if reduced:
        d_dy = tf.reduce_sum(d_dy, axis=2)
        if mean_divisor is not None:
            d_dy = d_dy / mean_divisor
    return d_dy, ax + dz * grad_dkernel, akernel + tf.reduce_sum(dz * grad_dx, axis=0), abias
