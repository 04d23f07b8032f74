"""The fused op on PyTorch tensors: two PyTorch operators,
spatial_ops::spatial_dense and spatial_ops::spatial_dense_grad
(torch.library.custom_op), that run the kernels through spatial_ops._core:
CPU tensors as NumPy views of their memory, on as many threads as PyTorch's
intra-op pool, and CUDA tensors as device arrays on PyTorch's current
stream. Each has a fake (shapes only, for torch.compile
and torch.export) and an autograd formula: the forward's gradient is the
fused backward, whose own gradient is the second-order math of
spatial_ops._second_order."""

from typing import List

import keras
import numpy as np
import torch

from .. import _core, _fused_call, _second_order, _shapes
from ..activations import resolve, resolve_uncached

SUPPORTED_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_HALF_DTYPES = (torch.float16, torch.bfloat16)


def _kernel_view(tensor):
    """What _core reads: CUDA tensors as they are (it takes their stream), CPU
    tensors as NumPy arrays over the same memory (bfloat16 through ml_dtypes'
    NumPy type, which _core reads as bfloat16)."""
    if tensor.is_cuda:
        return tensor
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
        try:
            import ml_dtypes
        except ImportError:
            raise NotImplementedError(
                "bfloat16 CPU tensors reach the kernels as ml_dtypes' NumPy bfloat16, which is not installed: "
                "pip install ml-dtypes") from None
        return tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return tensor.numpy()


def _threads(tensor):
    """_core's threads for a call: PyTorch's intra-op count on the CPU."""
    return {} if tensor.is_cuda else {"threads": torch.get_num_threads()}


def _output_shape(x_shape, reduction, reduce_begin, reduce_end):
    if reduction == "none":
        return list(x_shape)
    return list(x_shape[:reduce_begin]) + list(x_shape[reduce_end:])


@torch.library.custom_op("spatial_ops::spatial_dense", mutates_args=())
def spatial_dense_op(x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor, activation: str,
                     activation_params: List[float], reduction: str, has_bias: bool, derivative_order: int,
                     reduce_begin: int, reduce_end: int) -> torch.Tensor:
    """y = reduce(activation(x * kernel + bias)); kernel and bias in x's
    spatial shape, bias [0] when has_bias is false (the TensorFlow op's form)."""
    x, kernel, bias = x.contiguous(), kernel.contiguous(), bias.contiguous()
    y = x.new_empty(_output_shape(x.shape, reduction, reduce_begin, reduce_end))
    _core.forward(_kernel_view(x), _kernel_view(kernel), _kernel_view(bias) if has_bias else None, activation,
                  activation_params, reduction, derivative_order, reduce_begin=reduce_begin, reduce_end=reduce_end,
                  out=_kernel_view(y), **_threads(x))
    return y


@spatial_dense_op.register_fake
def _(x, kernel, bias, activation, activation_params, reduction, has_bias, derivative_order, reduce_begin,
      reduce_end):
    return x.new_empty(_output_shape(x.shape, reduction, reduce_begin, reduce_end))


@torch.library.custom_op("spatial_ops::spatial_dense_grad", mutates_args=())
def spatial_dense_grad_op(dy: torch.Tensor, x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor,
                          activation: str, activation_params: List[float], reduction: str, has_bias: bool,
                          derivative_order: int, reduce_begin: int,
                          reduce_end: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, dkernel, dbias) of spatial_dense; dbias [0] without a bias."""
    dy, x, kernel, bias = dy.contiguous(), x.contiguous(), kernel.contiguous(), bias.contiguous()
    dx, dkernel, dbias = torch.empty_like(x), torch.empty_like(kernel), torch.empty_like(bias)
    _core.backward(_kernel_view(dy), _kernel_view(x), _kernel_view(kernel), _kernel_view(bias) if has_bias else None,
                   activation, activation_params, reduction, derivative_order, reduce_begin=reduce_begin,
                   reduce_end=reduce_end,
                   out=(_kernel_view(dx), _kernel_view(dkernel), _kernel_view(dbias) if has_bias else None),
                   **_threads(x))
    return dx, dkernel, dbias


@spatial_dense_grad_op.register_fake
def _(dy, x, kernel, bias, *attrs):
    return torch.empty_like(x), torch.empty_like(kernel), torch.empty_like(bias)


_ATTRS = ("activation", "activation_params", "reduction", "has_bias", "derivative_order", "reduce_begin",
          "reduce_end")


def _save_operands_and_attrs(ctx, inputs, output):
    tensors, attrs = inputs[:-len(_ATTRS)], inputs[-len(_ATTRS):]
    ctx.save_for_backward(*tensors)
    ctx.attrs = dict(zip(_ATTRS, attrs))


def _forward_gradient(ctx, dy):
    x, kernel, bias = ctx.saved_tensors
    return (*_grad_call(dy, x, kernel, bias, **ctx.attrs), *(None,) * len(_ATTRS))


def _backward_gradient(ctx, grad_dx, grad_dkernel, grad_dbias):
    attrs = ctx.attrs
    gradients = _second_order.backward_gradients(
        _TORCH_ARRAYS, _forward_call, _grad_call, attrs, *ctx.saved_tensors, grad_dx, grad_dkernel,
        grad_dbias if attrs["has_bias"] else None)
    return (*gradients, *(None,) * len(_ATTRS))


def _forward_call(x, kernel, bias, **attrs):
    return spatial_dense_op(x, kernel, bias, *(attrs[name] for name in _ATTRS))


def _grad_call(dy, x, kernel, bias, **attrs):
    return spatial_dense_grad_op(dy, x, kernel, bias, *(attrs[name] for name in _ATTRS))


spatial_dense_op.register_autograd(_forward_gradient, setup_context=_save_operands_and_attrs)
spatial_dense_grad_op.register_autograd(_backward_gradient, setup_context=_save_operands_and_attrs)

_TORCH_ARRAYS = _second_order.ArrayFunctions(
    expand_dims=torch.unsqueeze,
    sum=lambda a, axes: torch.sum(a, dim=axes),
    zeros_like=torch.zeros_like,
    reduced_size=lambda x, axes: torch.tensor(float(np.prod([x.shape[a] for a in axes])), dtype=x.dtype,
                                              device=x.device),
)


# ---- the public op ----

def _dtype_name(dtype):
    return str(dtype).removeprefix("torch.")


def _as_weight(weight, x, name):
    if weight is None:
        return None
    if isinstance(weight, keras.Variable):
        weight = weight.value  # read through any autocast scope
    if isinstance(weight, torch.Tensor):
        if weight.dtype != x.dtype:
            raise ValueError(
                f"mixed dtypes: x is {_dtype_name(x.dtype)} {tuple(x.shape)} but {name} is "
                f"{_dtype_name(weight.dtype)} {tuple(weight.shape)}; cast them to one dtype"
            )
        return weight
    return torch.as_tensor(np.asarray(weight), dtype=x.dtype, device=x.device)  # NumPy data or numbers


def _spatial_weight(weight, spatial_shape):
    """weight in x's spatial shape, broadcast (materialised at weight size)
    when it is not. Half types broadcast through float32, so that the
    gradient's sum over the broadcast axes runs in float32, as the kernels' do."""
    if tuple(weight.shape) == spatial_shape:
        return weight
    if weight.dtype in _HALF_DTYPES:
        return weight.float().expand(spatial_shape).to(weight.dtype)
    return weight.expand(spatial_shape)


def _reduce(y, axes, reduction):
    return (torch.sum if reduction == "sum" else torch.mean)(y, dim=axes)


def spatial_dense(x, kernel, bias=None, *, activation=None, reduce_axis=None, reduction="sum"):
    """y = reduce(activation(x * kernel + bias)) in one fused pass, on PyTorch
    tensors (CPU, or CUDA on the current stream), differentiable to second
    order, under torch.compile without graph breaks.

    x: (batch, d1, ..., dk); kernel and bias broadcast to (d1, ..., dk) (bias
    may be None); activation: None, a Keras activation name or function, a
    spatial_ops.Activation, or any callable (applied after the fused affine
    op); reduce_axis: None, an int or ints (never the batch axis 0);
    reduction: "sum" or "mean".
    """
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if x.dtype not in SUPPORTED_DTYPES:
        raise ValueError(
            f"x has dtype {_dtype_name(x.dtype)} (shape {tuple(x.shape)}); supported dtypes are "
            "float16, bfloat16, float32 and float64"
        )
    if x.dim() < 2:
        raise ValueError(f"x must have rank >= 2, (batch, d1, ..., dk), got shape {tuple(x.shape)}")
    if x.device.type not in ("cpu", "cuda"):
        raise NotImplementedError(
            f"spatial_ops runs on CPU and CUDA tensors, not {x.device.type}; move x there, or use "
            "SpatialDense(fused=False) for the same math in plain PyTorch ops")
    kernel, bias = _as_weight(kernel, x, "kernel"), _as_weight(bias, x, "bias")
    spatial = tuple(x.shape[1:])
    for weight, name in ((kernel, "kernel"), (bias, "bias")):
        if weight is not None:
            _shapes.check_broadcastable(tuple(weight.shape), spatial, name, tuple(x.shape))
    axes = _shapes.normalize_reduce_axes(reduce_axis, x.dim())
    _shapes.check_reduction(reduction)
    resolved = (resolve_uncached if torch.compiler.is_compiling() else resolve)(activation)
    call = _fused_call.plan(resolved, axes, reduction, list(x.shape))
    kernel = _spatial_weight(kernel, spatial)
    bias_operand = x.new_zeros((0,)) if bias is None else _spatial_weight(bias, spatial)
    y = spatial_dense_op(x, kernel, bias_operand, call.activation, list(call.params), call.reduction,
                         bias is not None, 0, call.reduce_begin, call.reduce_end)
    return call.finish(y, _reduce, reduction)
