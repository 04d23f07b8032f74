"""The fused op on JAX arrays: custom calls of the kernels through XLA's FFI
(the handlers of csrc/xla_ffi, the same ones TensorFlow's jit_compile
runs), one forward and one backward, with

- a custom VJP whose backward is the fused backward, itself differentiable
  (second order, spatial_ops._second_order);
- a vmap rule for each custom call that folds the mapped axis into the batch
  where the weights are shared, and otherwise makes it a spatial axis of the
  call (each mapped instance then has its own weights and weight gradients),
  never a loop;
- a partitioning by the batch across devices (_partitioning.py), so that
  data parallelism keeps x sharded.
"""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from .. import _fused_call, _second_order, _shapes
from ..activations import resolve
from . import _loader, _partitioning

SUPPORTED_DTYPES = tuple(jnp.dtype(name) for name in _shapes.DTYPE_NAMES)
_HALF_DTYPES = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


@dataclasses.dataclass(frozen=True)
class Attrs:
    """The ops' attributes (as the TensorFlow ops name them); hashable, so
    that JAX can hold them as static arguments."""

    activation: str
    activation_params: tuple
    reduction: str  # "none", "sum" or "mean"
    has_bias: bool
    derivative_order: int = 0
    reduce_begin: int = 2  # x's axes [reduce_begin, reduce_end) are reduced
    reduce_end: int = 3

    def ffi_attributes(self):
        return dict(
            activation=self.activation,
            # Bit patterns of the doubles: exact, and Inf needs no syntax.
            activation_param_bits=np.array(self.activation_params, np.float64).view(np.int64),
            reduction=self.reduction,
            has_bias=np.bool_(self.has_bias),
            derivative_order=np.int64(self.derivative_order),
            reduce_begin=np.int64(self.reduce_begin),
            reduce_end=np.int64(self.reduce_end),
        )

    def output_shape(self, x_shape):
        if self.reduction == "none":
            return tuple(x_shape)
        return tuple(x_shape[: self.reduce_begin]) + tuple(x_shape[self.reduce_end :])

    def with_spatial_axis_in_front(self):
        """The attributes once a new axis 1 is put before x's spatial axes."""
        return dataclasses.replace(self, reduce_begin=self.reduce_begin + 1, reduce_end=self.reduce_end + 1)


# ---- the custom calls, with their vmap rules ----


def _call_forward(attrs, x, kernel, bias):
    result = jax.ShapeDtypeStruct(attrs.output_shape(x.shape), x.dtype)
    return jax.ffi.ffi_call(_loader.target("forward"), result)(x, kernel, bias, **attrs.ffi_attributes())


def _call_backward(attrs, dy, x, kernel, bias):
    results = tuple(jax.ShapeDtypeStruct(a.shape, a.dtype) for a in (x, kernel, bias))
    return jax.ffi.ffi_call(_loader.target("backward"), results)(dy, x, kernel, bias, **attrs.ffi_attributes())


def _as_spatial_axis(size, batched, x_like, weights):
    """The mapped axis (size) as axis 1 of the x-like arrays (batch first) and
    axis 0 of the weights, broadcast where an array is not mapped."""
    moved = []
    for array, is_batched in zip(x_like, batched[: len(x_like)]):
        if is_batched:
            moved.append(jnp.moveaxis(array, 0, 1))
        else:
            moved.append(jnp.broadcast_to(array[:, None], (array.shape[0], size, *array.shape[1:])))
    for array, is_batched in zip(weights, batched[len(x_like) :]):
        moved.append(array if is_batched else jnp.broadcast_to(array, (size, *array.shape)))
    return moved


@functools.lru_cache(maxsize=None)
def _forward(attrs):
    """The forward custom call for these attributes, with its vmap rule."""

    @jax.custom_batching.custom_vmap
    def forward(x, kernel, bias):
        return _partitioning.partitioned_forward(_call_forward, attrs, x.ndim)(x, kernel, bias)

    @forward.def_vmap
    def forward_vmap(size, batched, x, kernel, bias):
        x_batched, kernel_batched, bias_batched = batched
        if not (kernel_batched or bias_batched):  # shared weights: (size, B, ...) is a batch of size * B
            y = forward(x.reshape(-1, *x.shape[2:]), kernel, bias)
            return y.reshape(size, -1, *y.shape[1:]), True
        if not attrs.has_bias:
            x, kernel = _as_spatial_axis(size, (x_batched, kernel_batched), [x], [kernel])
        else:
            x, kernel, bias = _as_spatial_axis(size, batched, [x], [kernel, bias])
        y = _forward(attrs.with_spatial_axis_in_front())(x, kernel, bias)
        return jnp.moveaxis(y, 1, 0), True

    return forward


@functools.lru_cache(maxsize=None)
def _backward(attrs):
    """The backward custom call for these attributes, with its vmap rule:
    each mapped instance has its own weight gradients, so the mapped axis is
    always a spatial axis here."""

    @jax.custom_batching.custom_vmap
    def backward(dy, x, kernel, bias):
        return _partitioning.partitioned_backward(_call_backward, attrs, x.ndim)(dy, x, kernel, bias)

    @backward.def_vmap
    def backward_vmap(size, batched, dy, x, kernel, bias):
        if attrs.has_bias:
            dy, x, kernel, bias = _as_spatial_axis(size, batched, [dy, x], [kernel, bias])
        else:
            dy, x, kernel = _as_spatial_axis(size, batched[:3], [dy, x], [kernel])
        dx, dkernel, dbias = _backward(attrs.with_spatial_axis_in_front())(dy, x, kernel, bias)
        return (jnp.moveaxis(dx, 1, 0), dkernel, dbias), (True, True, attrs.has_bias)

    return backward


# ---- differentiation ----


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def fused_forward(attrs, x, kernel, bias):
    """y of the forward op, differentiable (its VJP is fused_backward)."""
    return _forward(attrs)(x, kernel, bias)


# The fwd rules call the differentiable functions themselves, not the custom
# calls: under a higher-order transformation the outer one differentiates
# what fwd computes.
def _fused_forward_fwd(attrs, x, kernel, bias):
    return fused_forward(attrs, x, kernel, bias), (x, kernel, bias)


def _fused_forward_bwd(attrs, operands, dy):
    return fused_backward(attrs, dy, *operands)


fused_forward.defvjp(_fused_forward_fwd, _fused_forward_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def fused_backward(attrs, dy, x, kernel, bias):
    """(dx, dkernel, dbias) of the backward op, differentiable once more."""
    return _backward(attrs)(dy, x, kernel, bias)


def _fused_backward_fwd(attrs, dy, x, kernel, bias):
    return fused_backward(attrs, dy, x, kernel, bias), (dy, x, kernel, bias)


def _fused_backward_bwd(attrs, operands, gradients):
    grad_dx, grad_dkernel, grad_dbias = gradients
    return _second_order.backward_gradients(
        _JAX_ARRAYS,
        _forward_with_dict,
        _backward_with_dict,
        dataclasses.asdict(attrs),
        *operands,
        grad_dx,
        grad_dkernel,
        grad_dbias if attrs.has_bias else None,
    )


fused_backward.defvjp(_fused_backward_fwd, _fused_backward_bwd)


def _forward_with_dict(x, kernel, bias, **attrs):
    return fused_forward(Attrs(**attrs), x, kernel, bias)


def _backward_with_dict(dy, x, kernel, bias, **attrs):
    return fused_backward(Attrs(**attrs), dy, x, kernel, bias)


_JAX_ARRAYS = _second_order.ArrayFunctions(
    expand_dims=jnp.expand_dims,
    sum=lambda a, axes: jnp.sum(a, axis=axes),
    zeros_like=jnp.zeros_like,
    reduced_size=lambda x, axes: jnp.asarray(np.prod([x.shape[a] for a in axes]), x.dtype),
)


# ---- the public op ----


def _dtype_name(dtype):
    return jnp.dtype(dtype).name


def _as_weight(weight, x, name):
    if weight is None:
        return None
    if hasattr(weight, "dtype") and not isinstance(weight, np.ndarray):
        weight = jnp.asarray(weight)  # a JAX array or a Keras variable (read through any autocast scope)
        if weight.dtype != x.dtype:
            _shapes.refuse_mixed_dtypes(
                _dtype_name(x.dtype), tuple(x.shape), name, _dtype_name(weight.dtype), tuple(weight.shape)
            )
        return weight
    return jnp.asarray(weight, x.dtype)  # NumPy data or Python numbers


def _spatial_weight(weight, spatial_shape):
    """weight as the op takes it, in x's spatial shape: broadcast (at weight
    size) when it is not. Half types broadcast through float32, so that the
    gradient's sum over the broadcast axes runs in float32 as the kernels' do."""
    if tuple(weight.shape) == spatial_shape:
        return weight
    if weight.dtype in _HALF_DTYPES:
        return jnp.broadcast_to(weight.astype(jnp.float32), spatial_shape).astype(weight.dtype)
    return jnp.broadcast_to(weight, spatial_shape)


def _reduce(y, axes, reduction):
    return (jnp.sum if reduction == "sum" else jnp.mean)(y, axis=axes)


def _refuse_other_platforms(backends):
    platform = jax.default_backend()
    if platform not in backends:
        raise NotImplementedError(
            f"this build of spatial_ops runs the fused kernels under JAX on {', '.join(backends)}, but JAX's "
            f"default backend is {platform!r}. Rebuild spatial_ops with the CUDA kernels (nvcc on PATH, "
            "CMAKE_ARGS=-DSPATIAL_OPS_CUDA=ON) for NVIDIA GPUs, run on the CPU (JAX_PLATFORMS=cpu), or use "
            "the same math in plain JAX: SpatialDense(fused=False)."
        )


def spatial_dense(x, kernel, bias=None, *, activation=None, reduce_axis=None, reduction="sum"):
    """y = reduce(activation(x * kernel + bias)) in one fused pass, on JAX
    arrays, under jit, grad (first and second order) and vmap.

    x: (batch, d1, ..., dk); kernel and bias broadcast to (d1, ..., dk) (bias
    may be None); activation: None, a Keras activation name or function, a
    spatial_ops.Activation, or any callable (applied after the fused affine
    op); reduce_axis: None, an int or ints (never the batch axis 0);
    reduction: "sum" or "mean".
    """
    _refuse_other_platforms(_loader.register_handlers())
    x = jnp.asarray(x)
    if x.dtype not in SUPPORTED_DTYPES:
        _shapes.refuse_dtype(_dtype_name(x.dtype), tuple(x.shape))
    if x.ndim < 2:
        _shapes.refuse_rank(tuple(x.shape))
    kernel, bias = _as_weight(kernel, x, "kernel"), _as_weight(bias, x, "bias")
    spatial = tuple(x.shape[1:])
    for weight, name in ((kernel, "kernel"), (bias, "bias")):
        if weight is not None:
            _shapes.check_broadcastable(tuple(weight.shape), spatial, name, tuple(x.shape))
    axes = _shapes.normalize_reduce_axes(reduce_axis, x.ndim)
    _shapes.check_reduction(reduction)
    call = _fused_call.plan(resolve(activation), axes, reduction, list(x.shape))
    kernel = _spatial_weight(kernel, spatial)
    bias_operand = jnp.zeros((0,), x.dtype) if bias is None else _spatial_weight(bias, spatial)
    attrs = Attrs(call.activation, call.params, call.reduction, bias is not None, 0, call.reduce_begin, call.reduce_end)
    return call.finish(fused_forward(attrs, x, kernel, bias_operand), _reduce, reduction)
