"""What the tests of the JAX and PyTorch front-ends share (tests/test_jax.py,
tests/test_torch.py): one call's values and gradients against the float64
NumPy reference (numpy_reference.py) and, where TensorFlow is installed, bit
for bit against the TensorFlow op (the same kernels); and ValueChecks, the
grid of cases each front-end's test class inherits. Imports no TensorFlow
where there is none: the same files run on the GPU machines."""

import importlib.util

import numpy as np
import pytest

import spatial_ops
from helpers import numpy_reference
from helpers.cases import (
    ACTIVATION_IDS,
    ACTIVATIONS,
    DTYPE_NAMES,
    REDUCTIONS_3D,
    REDUCTIONS_4D,
    draw_operands,
    numpy_dtype,
)
from spatial_ops.testing.criteria import assert_close

# The TensorFlow op is the bitwise yardstick where TensorFlow is installed;
# installed but broken fails the tests rather than skipping the comparison.
HAVE_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None

# (x shape, weight shape, reduce_axis): broadcast weights, empty batches,
# several spatial blocks.
SHAPES_AND_BROADCASTS = [
    ((6, 5, 7), (7,), None),
    ((6, 5, 7), (5, 1), -1),
    ((6, 5, 7), (), 1),
    ((2, 4, 5, 3), (4, 5, 1), (1, 2)),
    ((0, 5, 7), (5, 7), -1),
    ((4, 5000), (5000,), -1),
]

# (activation, reduce_axis, reduction) checked to second order.
SECOND_ORDER_CASES = [
    ("tanh", None, "sum"),
    ("gelu", -1, "sum"),
    ("softplus", (1, 2), "mean"),
    ("elu", 1, "mean"),
    (spatial_ops.Activation("celu", alpha=0.7), -1, "sum"),
]


def _tf_forward_and_gradients(x, kernel, bias, dy, **kwargs):
    """The TensorFlow op's y and gradients, as float64 NumPy arrays."""
    import tensorflow as tf

    from spatial_ops.tensorflow import spatial_dense

    operands = [tf.constant(a) for a in (x, kernel, bias) if a is not None]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        y = spatial_dense(*operands, **kwargs) if bias is not None else spatial_dense(*operands, None, **kwargs)
    results = (y, *tape.gradient(y, operands, output_gradients=tf.constant(dy)))
    return [tf.cast(r, tf.float64).numpy() for r in results]


def check_against_reference(
    rng,
    device,
    forward_and_gradients,
    activation,
    kinks,
    x_shape,
    weight_shape,
    dtype,
    use_bias=True,
    bitwise=True,
    **kwargs,
):
    """forward_and_gradients(device, x, kernel, bias, dy, **kwargs) runs the
    front-end on NumPy operands of dtype (a name; bias may be None) on the
    device and returns y and the gradients (dx, dkernel[, dbias]) as NumPy
    arrays. bitwise: also equal to the TensorFlow op's where TensorFlow is
    installed (not where a front-end reduces axes outside the kernels' run,
    or sums broadcast weights' gradients, in its own order)."""
    x, kernel, bias = draw_operands(rng, x_shape, weight_shape, dtype, kinks, use_bias=use_bias)
    kwargs = dict(activation=activation, **kwargs)
    out_shape = numpy_reference.value_and_gradients(x, kernel, bias, None, **kwargs).shape
    dy = rng.normal(size=out_shape).astype(numpy_dtype(dtype))
    y, grads = forward_and_gradients(device, x, kernel, bias, dy, **kwargs)
    want_y, want_grads = numpy_reference.value_and_gradients(x, kernel, bias, dy, **kwargs)
    results = ("y", *("dx", "dkernel", "dbias")[: len(grads)]), (y, *grads)
    for name, got, want in zip(*results, (want_y, *want_grads)):
        assert got.dtype == numpy_dtype(dtype), f"{name}: {got.dtype}"
        assert_close(got.astype(np.float64), want, dtype, what=name)
    if bitwise and HAVE_TENSORFLOW:
        for name, got, same_kernels in zip(*results, _tf_forward_and_gradients(x, kernel, bias, dy, **kwargs)):
            np.testing.assert_array_equal(
                got.astype(np.float64), same_kernels, err_msg=f"{name} against the TensorFlow op"
            )


class ValueChecks:
    """The grid of value and gradient checks; a front-end's test class
    (named Test...) inherits it and sets forward_and_gradients (see
    check_against_reference) as a staticmethod."""

    forward_and_gradients = None

    def check(self, rng, device, activation, kinks, x_shape, weight_shape, dtype, **kwargs):
        check_against_reference(
            rng, device, self.forward_and_gradients, activation, kinks, x_shape, weight_shape, dtype, **kwargs
        )

    @pytest.mark.parametrize("dtype", DTYPE_NAMES)
    @pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_3D, ids=str)
    @pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
    def test_every_activation_reduction_dtype(self, rng, device, case, reduce_axis, reduction, dtype):
        self.check(
            rng,
            device,
            case.activation,
            case.kinks,
            (6, 5, 7),
            (5, 7),
            dtype,
            reduce_axis=reduce_axis,
            reduction=reduction,
        )

    @pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_4D, ids=str)
    def test_several_reduced_axes(self, rng, device, reduce_axis, reduction):
        # Axes outside the kernels' run are reduced by the front-end's framework,
        # in its own order: close, not bitwise.
        self.check(
            rng,
            device,
            "gelu",
            (),
            (3, 4, 5, 6),
            (4, 5, 6),
            "float64",
            bitwise=False,
            reduce_axis=reduce_axis,
            reduction=reduction,
        )

    @pytest.mark.parametrize("x_shape,weight_shape,reduce_axis", SHAPES_AND_BROADCASTS, ids=str)
    @pytest.mark.parametrize("use_bias", [True, False])
    def test_shapes_and_broadcast_weights(self, rng, device, x_shape, weight_shape, reduce_axis, use_bias):
        self.check(
            rng,
            device,
            "silu",
            (),
            x_shape,
            weight_shape,
            "float64",
            use_bias=use_bias,
            bitwise=False,
            reduce_axis=reduce_axis,
        )

    def test_an_unfused_callable_is_applied_after_the_affine_op(self, rng, device):
        square_minus = lambda v: v * v - v  # arithmetic only: it runs on each framework's arrays and NumPy's
        self.check(rng, device, square_minus, (), (6, 5, 7), (5, 7), "float64", bitwise=False, reduce_axis=-1)
