"""The fused op on PyTorch tensors: the C++ operators spatial_ops::spatial_dense
and spatial_ops::spatial_dense_grad (csrc/torch/), which run the kernels on
PyTorch's intra-op threads (CPU) or its current stream and caching allocator
(CUDA), with Meta implementations for torch.compile and torch.export. The
forward's autograd formula is C++ too (its gradient is the grad operator);
the grad operator's own gradient, the second-order math of
spatial_ops._second_order, is registered here.

The public spatial_dense does per call only what a PyTorch op would: its
argument checks and the split between kernels and front-end are worked out
once per signature (activation, axes, reduction, shapes) and kept."""

import math

import torch

from .. import _fused_call, _second_order, _shapes
from ..activations import resolve, resolve_uncached
from . import _loader

HAS_CUDA_OPERATORS = _loader.load()
_forward_op = torch.ops.spatial_ops.spatial_dense.default
_grad_op = torch.ops.spatial_ops.spatial_dense_grad.default

SUPPORTED_DTYPES = tuple(getattr(torch, name) for name in _shapes.DTYPE_NAMES)
_HALF_DTYPES = (torch.float16, torch.bfloat16)
_ATTRS = ("activation", "activation_params", "reduction", "has_bias", "derivative_order", "reduce_begin", "reduce_end")


# ---- the grad operator's gradient (second order) ----


def _save_operands_and_attrs(ctx, inputs, output):
    tensors, attrs = inputs[: -len(_ATTRS)], inputs[-len(_ATTRS) :]
    ctx.save_for_backward(*tensors)
    ctx.attrs = dict(zip(_ATTRS, attrs))


def _backward_gradient(ctx, grad_dx, grad_dkernel, grad_dbias):
    attrs = ctx.attrs
    gradients = _second_order.backward_gradients(
        _TORCH_ARRAYS,
        _forward_call,
        _grad_call,
        attrs,
        *ctx.saved_tensors,
        grad_dx,
        grad_dkernel,
        grad_dbias if attrs["has_bias"] else None,
    )
    return (*gradients, *(None,) * len(_ATTRS))


def _forward_call(x, kernel, bias, **attrs):
    return _forward_op(x, kernel, bias, *(attrs[name] for name in _ATTRS))


def _grad_call(dy, x, kernel, bias, **attrs):
    return _grad_op(dy, x, kernel, bias, *(attrs[name] for name in _ATTRS))


torch.library.register_autograd(
    "spatial_ops::spatial_dense_grad", _backward_gradient, setup_context=_save_operands_and_attrs
)

_TORCH_ARRAYS = _second_order.ArrayFunctions(
    expand_dims=torch.unsqueeze,
    sum=lambda a, axes: torch.sum(a, dim=axes),
    zeros_like=torch.zeros_like,
    reduced_size=lambda x, axes: math.prod(x.shape[a] for a in axes),
)


# ---- the public op ----


def _dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def _as_weight(weight, x):
    if weight is None or isinstance(weight, torch.Tensor):
        return weight
    value = getattr(weight, "value", None)  # a Keras variable, read through any autocast scope
    if isinstance(value, torch.Tensor):
        return value
    return torch.as_tensor(weight, dtype=x.dtype, device=x.device)  # NumPy data or numbers


def _check_operands(x, kernel, bias):
    if x.dtype not in SUPPORTED_DTYPES:
        _shapes.refuse_dtype(_dtype_name(x.dtype), tuple(x.shape))
    if x.dim() < 2:
        _shapes.refuse_rank(tuple(x.shape))
    if x.device.type not in ("cpu", "cuda"):
        raise NotImplementedError(
            f"spatial_ops runs on CPU and CUDA tensors, not {x.device.type}; move x there, or use "
            "SpatialDense(fused=False) for the same math in plain PyTorch ops"
        )
    if x.device.type == "cuda" and not HAS_CUDA_OPERATORS:
        raise NotImplementedError(
            "spatial_ops was built without its CUDA operators (PyTorch's CPU build, or no nvcc), so it "
            "cannot run on CUDA tensors. Install a CUDA PyTorch and the CUDA toolkit with nvcc on PATH, then "
            f"rebuild: {_loader.rebuild_command()}; or move x to the CPU, or use SpatialDense(fused=False)"
        )
    for weight, name in ((kernel, "kernel"), (bias, "bias")):
        if weight is not None and weight.dtype != x.dtype:
            _shapes.refuse_mixed_dtypes(
                _dtype_name(x.dtype), tuple(x.shape), name, _dtype_name(weight.dtype), tuple(weight.shape)
            )


def _plan(activation, reduce_axis, reduction, x, kernel, bias, dims):
    """What one signature of call needs: the argument checks, the kernels'
    part (_fused_call.FusedCall) and whether each weight must be broadcast.
    A plain tuple: Dynamo traces it as it traces ints."""
    _check_operands(x, kernel, bias)
    x_shape, kernel_shape = tuple(x.shape), tuple(kernel.shape)
    bias_shape = None if bias is None else tuple(bias.shape)
    spatial = x_shape[1:]
    for shape, name in ((kernel_shape, "kernel"), (bias_shape, "bias")):
        if shape is not None:
            _shapes.check_broadcastable(shape, spatial, name, x_shape)
    axes = _shapes.normalize_reduce_axes(reduce_axis, len(x_shape))
    _shapes.check_reduction(reduction)
    resolved = (resolve_uncached if torch.compiler.is_compiling() else resolve)(activation)
    call = _fused_call.plan(resolved, axes, reduction, dims)
    return call, kernel_shape != spatial, bias_shape is not None and bias_shape != spatial


_PLANS = {}


def _planned(activation, reduce_axis, reduction, x, kernel, bias):
    """The call's _plan. In eager mode it is kept per signature (arguments,
    shapes, dtypes, device), so a repeated call checks nothing again. Under
    torch.compile sizes may be symbolic: the kernels' reduced run is then
    chosen from the sizes known statically (_shapes.fused_reduce_run)."""
    if torch.compiler.is_compiling():
        dims = [d if isinstance(d, int) else None for d in x.shape]
        return _plan(activation, reduce_axis, reduction, x, kernel, bias, dims)
    try:
        key = (
            activation,
            reduce_axis,
            reduction,
            x.shape,
            x.dtype,
            x.device,
            kernel.shape,
            kernel.dtype,
            None if bias is None else (bias.shape, bias.dtype),
        )
        return _PLANS[key]
    except TypeError:  # an unhashable activation or axes: no cache
        return _plan(activation, reduce_axis, reduction, x, kernel, bias, list(x.shape))
    except KeyError:
        if len(_PLANS) > 1024:
            _PLANS.clear()
        plan = _PLANS[key] = _plan(activation, reduce_axis, reduction, x, kernel, bias, list(x.shape))
        return plan


def _spatial_weight(weight, spatial_shape):
    """weight in x's spatial shape, materialised at weight size. Half types
    broadcast through float32, so that the gradient's sum over the broadcast
    axes runs in float32, as the kernels' do."""
    if weight.dtype in _HALF_DTYPES:
        return weight.float().expand(spatial_shape).to(weight.dtype)
    return weight.expand(spatial_shape)


def _reduce(y, axes, reduction):
    return (torch.sum if reduction == "sum" else torch.mean)(y, dim=axes)


def spatial_dense(x, kernel, bias=None, *, activation=None, reduce_axis=None, reduction="sum"):
    """y = reduce(activation(x * kernel + bias)) in one fused pass, on PyTorch
    tensors (CPU, or CUDA on the current stream), differentiable to second
    order, under torch.compile without graph breaks (dynamic shapes too).

    x: (batch, d1, ..., dk); kernel and bias broadcast to (d1, ..., dk) (bias
    may be None); activation: None, a Keras activation name or function, a
    spatial_ops.Activation, or any callable (applied after the fused affine
    op); reduce_axis: None, an int or ints (never the batch axis 0);
    reduction: "sum" or "mean".
    """
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    kernel, bias = _as_weight(kernel, x), _as_weight(bias, x)
    call, broadcast_kernel, broadcast_bias = _planned(activation, reduce_axis, reduction, x, kernel, bias)
    spatial = x.shape[1:]
    if broadcast_kernel:
        kernel = _spatial_weight(kernel, spatial)
    if bias is None:
        bias_operand = x.new_empty((0,))
    else:
        bias_operand = _spatial_weight(bias, spatial) if broadcast_bias else bias
    y = _forward_op(
        x,
        kernel,
        bias_operand,
        call.activation,
        call.params,
        call.reduction,
        bias is not None,
        0,
        call.reduce_begin,
        call.reduce_end,
    )
    return call.finish(y, _reduce, reduction)
