"""What the tests of the JAX and PyTorch front-ends share (tests/test_jax.py,
tests/test_torch.py): one call's values and gradients against the float64
reference and, bit for bit, against the TensorFlow op (the same kernels),
and ValueChecks, the grid of cases each front-end's test class inherits."""

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import (ACTIVATIONS, ACTIVATION_IDS, DTYPES, REDUCTIONS_3D, REDUCTIONS_4D, assert_close,
                             draw_operands, numpy_dtype, reference_dtype)

# (x shape, weight shape, reduce_axis): broadcast weights, empty batches,
# several spatial blocks.
SHAPES_AND_BROADCASTS = [
    ((6, 5, 7), (7,), None), ((6, 5, 7), (5, 1), -1), ((6, 5, 7), (), 1), ((2, 4, 5, 3), (4, 5, 1), (1, 2)),
    ((0, 5, 7), (5, 7), -1), ((4, 5000), (5000,), -1),
]

# (activation, reduce_axis, reduction) checked to second order.
SECOND_ORDER_CASES = [
    ("tanh", None, "sum"), ("gelu", -1, "sum"), ("softplus", (1, 2), "mean"), ("elu", 1, "mean"),
    (spatial_ops.Activation("celu", alpha=0.7), -1, "sum"),
]


def _tf_forward_and_gradients(fn, x, kernel, bias, dy, **kwargs):
    operands = [tf.constant(a) for a in (x, kernel, bias) if a is not None]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        y = fn(*operands, **kwargs) if bias is not None else fn(*operands, None, **kwargs)
    return y, tape.gradient(y, operands, output_gradients=tf.constant(dy))


def check_against_reference_and_tf(rng, forward_and_gradients, activation, kinks, x_shape, weight_shape, dtype,
                                   use_bias=True, bitwise=True, **kwargs):
    """forward_and_gradients(x, kernel, bias, dy, **kwargs) runs the front-end
    on NumPy operands of dtype (bias may be None) and returns y and the
    gradients (dx, dkernel[, dbias]) as NumPy arrays. bitwise: also equal to
    the TensorFlow op's (not where a front-end reduces axes outside the
    kernels' run, or sums broadcast weights' gradients, in its own order)."""
    x, kernel, bias = draw_operands(rng, x_shape, weight_shape, dtype, kinks, use_bias=use_bias)
    kwargs = dict(activation=activation, **kwargs)
    out_shape = spatial_ops.reference.spatial_dense(x, kernel, bias, **kwargs).shape
    dy = rng.normal(size=out_shape).astype(numpy_dtype(dtype))
    y, grads = forward_and_gradients(x, kernel, bias, dy, **kwargs)
    ref = numpy_dtype(reference_dtype(dtype))
    as_ref = lambda a: None if a is None else a.astype(ref)
    want_y, want_grads = _tf_forward_and_gradients(spatial_ops.reference.spatial_dense, as_ref(x), as_ref(kernel),
                                                   as_ref(bias), dy.astype(ref), **kwargs)
    tf_y, tf_grads = _tf_forward_and_gradients(spatial_ops.spatial_dense, x, kernel, bias, dy, **kwargs)
    for name, got, want, same_kernels in zip(("y", "dx", "dkernel", "dbias"), (y, *grads), (want_y, *want_grads),
                                             (tf_y, *tf_grads)):
        assert got.dtype == numpy_dtype(dtype), f"{name}: {got.dtype}"
        assert_close(got.astype(np.float64), want, dtype, what=name)
        if bitwise:
            np.testing.assert_array_equal(got.astype(np.float64), tf.cast(same_kernels, tf.float64).numpy(),
                                          err_msg=f"{name} against the TensorFlow op")


class ValueChecks:
    """The grid of value and gradient checks; a front-end's test class
    (named Test...) inherits it and sets forward_and_gradients (see
    check_against_reference_and_tf) as a staticmethod."""

    forward_and_gradients = None

    def check(self, rng, activation, kinks, x_shape, weight_shape, dtype, **kwargs):
        check_against_reference_and_tf(rng, self.forward_and_gradients, activation, kinks, x_shape, weight_shape,
                                       dtype, **kwargs)

    @pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
    @pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_3D, ids=str)
    @pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
    def test_every_activation_reduction_dtype(self, rng, case, reduce_axis, reduction, dtype):
        self.check(rng, case.activation, case.kinks, (6, 5, 7), (5, 7), dtype, reduce_axis=reduce_axis,
                   reduction=reduction)

    @pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_4D, ids=str)
    def test_several_reduced_axes(self, rng, reduce_axis, reduction):
        # Axes outside the kernels' run are reduced by the front-end's framework,
        # in its own order: close, not bitwise.
        self.check(rng, "gelu", (), (3, 4, 5, 6), (4, 5, 6), tf.float64, bitwise=False, reduce_axis=reduce_axis,
                   reduction=reduction)

    @pytest.mark.parametrize("x_shape,weight_shape,reduce_axis", SHAPES_AND_BROADCASTS, ids=str)
    @pytest.mark.parametrize("use_bias", [True, False])
    def test_shapes_and_broadcast_weights(self, rng, x_shape, weight_shape, reduce_axis, use_bias):
        self.check(rng, "silu", (), x_shape, weight_shape, tf.float64, use_bias=use_bias, bitwise=False,
                   reduce_axis=reduce_axis)

    def test_an_unfused_callable_is_applied_after_the_affine_op(self, rng):
        square_minus = lambda v: v * v - v  # arithmetic only: the reference applies it to TF tensors
        self.check(rng, square_minus, (), (6, 5, 7), (5, 7), tf.float64, bitwise=False, reduce_axis=-1)
