"""The gradient of the fused backward (second-order derivatives), from the
fused ops themselves run with the activation's derivative, written once for
every front-end; each passes its array functions and its two ops.

With z = x k + b, g = dy spread over the reduced axes (/R for a mean),
s = act'(z), dz = g s, the backward computed dx = dz k, dkernel = sum_b dz x,
dbias = sum_b dz. With u = grad_dx k + grad_dkernel x + grad_dbias:
  d/d dy     = sum_r s u        (/R for a mean)
  d/d x      = g act''(z) u k + dz grad_dkernel
  d/d kernel = sum_b g act''(z) u x + sum_b dz grad_dx
  d/d bias   = sum_b g act''(z) u
where the act''(z) terms are one fused backward pass with order 1.
"""

import dataclasses
from typing import Callable


@dataclasses.dataclass(frozen=True)
class ArrayFunctions:
    """What the math needs from a framework: expand_dims(a, axis),
    sum(a, axes) over a tuple of axes, zeros_like(a), and reduced_size(x, axes),
    the product of x's sizes on axes as a scalar of x's dtype."""

    expand_dims: Callable
    sum: Callable
    zeros_like: Callable
    reduced_size: Callable


THIRD_ORDER_REFUSAL = (
    "spatial_ops.spatial_dense is differentiable to second order; a third derivative "
    "(the gradient of a second-order gradient) is not implemented. Use the composite for higher "
    "orders: spatial_ops.composite.spatial_dense (keras.ops), or SpatialDense(fused=False)."
)


def backward_gradients(array, forward, backward, attrs, dy, x, kernel, bias, grad_dx, grad_dkernel, grad_dbias):
    """(d dy, d x, d kernel, d bias) of the backward op, given the gradients
    arriving at its outputs (None: zero). attrs: the op's attributes as a dict
    (activation, activation_params, reduction, has_bias, derivative_order,
    reduce_begin, reduce_end); forward(x, kernel, bias, **attrs) and
    backward(dy, x, kernel, bias, **attrs) are the front-end's fused ops."""
    if attrs["derivative_order"] != 0:
        raise NotImplementedError(THIRD_ORDER_REFUSAL)
    grad_dx = array.zeros_like(x) if grad_dx is None else grad_dx
    grad_dkernel = array.zeros_like(kernel) if grad_dkernel is None else grad_dkernel
    reduced_axes = tuple(range(attrs["reduce_begin"], attrs["reduce_end"])) if attrs["reduction"] != "none" else ()
    g = dy
    for axis in reduced_axes:  # dy spread back over the reduced axes
        g = array.expand_dims(g, axis)
    mean_divisor = array.reduced_size(x, reduced_axes) if attrs["reduction"] == "mean" else None
    if mean_divisor is not None:
        g = g / mean_divisor
    order_one = dict(attrs, reduction="none", derivative_order=1)
    s = forward(x, kernel, bias, **order_one)
    u = grad_dx * kernel + grad_dkernel * x
    if attrs["has_bias"] and grad_dbias is not None:
        u = u + grad_dbias
    ax, akernel, abias = backward(g * u, x, kernel, bias, **order_one)
    dz = g * s
    d_dy = s * u
    if reduced_axes:
        d_dy = array.sum(d_dy, reduced_axes)
        if mean_divisor is not None:
            d_dy = d_dy / mean_divisor
    return d_dy, ax + dz * grad_dkernel, akernel + array.sum(dz * grad_dx, (0,)), abias
