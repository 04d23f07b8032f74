"""The fused op: checks the operands, calls the op library on x as it is
(the op takes any rank and the reduced run of axes as attributes), and
registers the fused backward as its gradient."""

import functools
import warnings

import tensorflow as tf

from .. import _fused_call, _second_order, _shapes, composite, exporting
from ..activations import resolve
from . import _operands, _xla, reference
from ._loader import LIBRARY

_HALF_DTYPES = (tf.float16, tf.bfloat16)
_EMPTY_BIAS = {}


def _spatial_weight(weight, x, spatial_dims):
    """weight as the op takes it, in x's spatial shape (d1, ..., dk): itself
    when it has that shape, else broadcast (materialised at weight size)."""
    if _operands.has_spatial_shape(weight, spatial_dims) and None not in spatial_dims:
        return weight
    spatial = x.shape[1:]
    target = spatial if spatial.is_fully_defined() else tf.shape(x)[1:]
    if weight.dtype in _HALF_DTYPES:
        # The gradient of broadcast_to sums over the broadcast axes in the
        # weight's dtype: for half types that sum runs in float32, as the
        # kernels' own sums do.
        return tf.cast(tf.broadcast_to(tf.cast(weight, tf.float32), target), weight.dtype)
    return tf.broadcast_to(weight, target)


def _empty_bias(dtype):
    """The op's bias operand when there is none: [0]. Kept per dtype in eager
    mode, where building it would cost as much as the op itself."""
    if not tf.executing_eagerly():
        return tf.zeros([0], dtype)
    if dtype not in _EMPTY_BIAS:
        _EMPTY_BIAS[dtype] = tf.zeros([0], dtype)
    return _EMPTY_BIAS[dtype]


def _call_fused(x, kernel, bias, call):
    """One call of the op, as planned (spatial_ops._fused_call)."""
    spatial_dims = x.shape.as_list()[1:]
    return LIBRARY.spatial_ops_spatial_dense(
        x,
        _spatial_weight(kernel, x, spatial_dims),
        _empty_bias(x.dtype) if bias is None else _spatial_weight(bias, x, spatial_dims),
        activation=call.activation,
        activation_params=[repr(p) for p in call.params],
        reduction=call.reduction,
        has_bias=bias is not None,
        reduce_begin=call.reduce_begin,
        reduce_end=call.reduce_end,
    )


def runs_fused_in_xla():
    """Whether the op compiles into XLA programs as a custom call of its own
    kernels: where the library was built with the lowering (TensorFlow
    releases that allow it, csrc/tf/xla_lowering.cc), and where TensorFlow
    sees a GPU (and would place the op there) only with the CUDA handlers
    (a library built with CUDA for a CUDA TensorFlow)."""
    needed = "xla_gpu" if tf.config.list_physical_devices("GPU") else "xla_lowering"
    if not LIBRARY.has(needed):
        return False
    if not LIBRARY.lowering_registered():
        _warn_lowering_missed()
        return False
    return True


@functools.lru_cache(maxsize=None)
def _warn_lowering_missed():
    warnings.warn(
        "spatial_ops was imported after XLA had compiled something in this process, so XLA cannot "
        "run its fused kernels: jit-compiled code runs the same math as TensorFlow composites. "
        "Import spatial_ops before the first XLA compilation (jit_compile=True) for the fused kernels.",
        stacklevel=3,
    )


def spatial_dense(x, kernel, bias=None, *, activation=None, reduce_axis=None, reduction="sum"):
    """y = reduce(activation(x * kernel + bias)) in one fused pass.

    x: (batch, d1, ..., dk); kernel and bias broadcast to (d1, ..., dk) (bias
    may be None); activation: None, a Keras activation name or function, a
    spatial_ops.Activation, or any callable (applied after the fused affine
    op); reduce_axis: None, an int or ints (never the batch axis 0);
    reduction: "sum" or "mean". Differentiable in x, kernel and bias.

    Under XLA (tf.function(jit_compile=True)) the op and its gradients lower
    to custom calls of the same kernels where runs_fused_in_xla() says so;
    elsewhere this is spatial_ops.reference.spatial_dense there, which XLA
    fuses itself, with the same results and gradients. Inside
    spatial_ops.portable() it is spatial_ops.composite.spatial_dense, for
    exports that run without spatial_ops.
    """
    if exporting.tracing_portable():
        return composite.spatial_dense(
            x, kernel, bias, activation=activation, reduce_axis=reduce_axis, reduction=reduction
        )
    if _xla.in_xla_context() and not runs_fused_in_xla():
        return reference.spatial_dense(
            x, kernel, bias, activation=activation, reduce_axis=reduce_axis, reduction=reduction
        )
    x, kernel, bias = _operands.prepare_operands(x, kernel, bias)
    axes = _shapes.normalize_reduce_axes(reduce_axis, x.shape.rank)
    _shapes.check_reduction(reduction)
    call = _fused_call.plan(resolve(activation), axes, reduction, x.shape.as_list())
    return call.finish(_call_fused(x, kernel, bias, call), _operands.reduce_spatial, reduction)


_ATTRS = ("activation", "activation_params", "reduction", "has_bias", "derivative_order", "reduce_begin", "reduce_end")


def _decoded(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return [_decoded(v) for v in value]
    return value


def _recorded_attrs(op):
    """The attributes as a tape recorded them, or None where op carries no
    record. In eager mode a tape's gradient gets a stand-in op whose public
    get_attr costs microseconds per attribute (a fifth of a small eager
    training step); the stand-in's flat (name, value, ...) tuple `attrs`, not
    a public API, holds them as recorded (str in eager mode, bytes in graphs).
    No public API gives them cheaper: test_gradient_attributes.py fails the
    day TensorFlow stops recording this tuple."""
    flat = getattr(op, "attrs", None)
    if not isinstance(flat, tuple):
        return None
    passed = dict(zip(flat[::2], flat[1::2]))
    if not all(name in passed for name in _ATTRS):
        return None
    return {name: _decoded(passed[name]) for name in _ATTRS}


def _attrs(op):
    """The op's attributes, strings as str."""
    recorded = _recorded_attrs(op)
    if recorded is not None:
        return recorded
    return {name: _decoded(op.get_attr(name)) for name in _ATTRS}


@tf.RegisterGradient("SpatialOps>SpatialDense")
def _spatial_dense_grad(op, dy):
    """One fused pass gives dx, dkernel, dbias (recomputing z from the inputs)."""
    return LIBRARY.spatial_ops_spatial_dense_grad(dy, *op.inputs, **_attrs(op))


_TF_ARRAYS = _second_order.ArrayFunctions(
    expand_dims=tf.expand_dims,
    sum=lambda a, axes: tf.reduce_sum(a, axis=list(axes)),
    zeros_like=tf.zeros_like,
    reduced_size=lambda x, axes: tf.cast(tf.reduce_prod(tf.gather(tf.shape(x), list(axes))), x.dtype),
)


@tf.RegisterGradient("SpatialOps>SpatialDenseGrad")
def _spatial_dense_grad_grad(op, grad_dx, grad_dkernel, grad_dbias):
    """Second order, from the fused ops run with the activation's derivative
    (spatial_ops._second_order)."""
    return _second_order.backward_gradients(
        _TF_ARRAYS,
        LIBRARY.spatial_ops_spatial_dense,
        LIBRARY.spatial_ops_spatial_dense_grad,
        _attrs(op),
        *op.inputs,
        grad_dx,
        grad_dkernel,
        grad_dbias,
    )
