"""The GPU tests' float64 NumPy reference (numpy_reference.py), on the
catalogue's table rows and parameters (gpu_support.CASES), against the
ground truth: spatial_ops.reference and TensorFlow's own first and second
derivatives. Runs wherever TensorFlow is installed (the CPU CI), so the GPU
machines, which have none, test the kernels against a reference checked
here. (That each entry's rows and parameters are what the op sends:
tests/test_activation_catalogue.py.)"""

import numpy as np
import pytest
from gpu_support import CASES, assert_close, draw_operands

from helpers import numpy_reference

try:
    import tensorflow as tf

    import spatial_ops
    from spatial_ops.activations import resolve
except ImportError as error:  # no TensorFlow (the GPU machines), or spatial_ops not built
    pytest.skip(f"needs TensorFlow and a built spatial_ops: {error}", allow_module_level=True)


def keras_activation(case):
    return case.user_form(spatial_ops.Activation)


def test_the_catalogue_covers_every_table_row():
    assert {case.table_row for case in CASES} == set(numpy_reference.ROWS)


def tf_derivatives(case, z):
    """Value, first and second derivative of the Keras activation, by
    TensorFlow's own gradients in float64. TensorFlow registers no gradient
    for SoftsignGrad: softsign's second derivative is central differences
    of its first."""
    fn = resolve(keras_activation(case)).fn

    def value_and_first(z):
        z = tf.constant(z)
        with tf.GradientTape(persistent=True) as outer:
            outer.watch(z)
            with tf.GradientTape() as inner:
                inner.watch(z)
                value = fn(z)
            first = inner.gradient(value, z)
        return value, first, outer, z

    value, first, outer, z_tensor = value_and_first(z)
    if case.table_row == "softsign":
        h = 1e-6
        second = (value_and_first(z + h)[1] - value_and_first(z - h)[1]).numpy() / (2 * h)
    else:
        second = outer.gradient(first, z_tensor, unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy()
    return value.numpy(), first.numpy(), second


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rows_match_tensorflow(rng, case):
    x, kernel, bias = draw_operands(rng, (6, 40), (40,), lambda v: v, case.kinks)
    z = x * kernel + bias
    value, first, second = tf_derivatives(case, z)
    terms = numpy_reference.ROWS[case.table_row](z, *case.params)
    assert_close(terms[0], value, "float64", "value")
    assert_close(terms[1], first, "float64", "derivative")
    if case.table_row == "softsign":  # differences: about 1e-10 of truncation and rounding
        np.testing.assert_allclose(terms[2], second, rtol=1e-6, atol=1e-6)
    else:
        assert_close(terms[2], second, "float64", "second derivative")


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("case", CASES[::5], ids=lambda c: c.id)
def test_op_matches_spatial_ops_reference(rng, case, reduction):
    x, kernel, bias = draw_operands(rng, (3, 2, 5, 4), (2, 5, 4), lambda v: v, case.kinks)
    dy_shape = (3, 2, 5, 4) if reduction == "none" else (3, 2, 4)
    dy = rng.normal(size=dy_shape)
    kwargs = dict(
        activation=keras_activation(case),
        reduce_axis=None if reduction == "none" else 2,
        reduction="sum" if reduction == "none" else reduction,
    )
    operands = [tf.constant(a) for a in (x, kernel, bias)]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        y = spatial_ops.reference.spatial_dense(*operands, **kwargs)
    grads = tape.gradient(y, operands, output_gradients=tf.constant(dy))
    assert_close(numpy_reference.forward(x, kernel, bias, case.table_row, case.params, reduction), y, "float64")
    got = numpy_reference.backward(dy, x, kernel, bias, case.table_row, case.params, reduction)
    for name, g, want in zip(("dx", "dkernel", "dbias"), got, grads):
        assert_close(g, want, "float64", name)


def square_minus(v):
    """An unfused callable, arithmetic only: it runs on tensors and arrays alike."""
    return v * v - v


# (x shape, weight shape, reduce_axis, reduction, activation): the op as a
# user calls it, which the JAX and PyTorch suites compare with.
USER_CALLS = [
    ((6, 5, 7), (5, 7), None, "sum", "gelu"),
    ((6, 5, 7), (7,), -1, "mean", "silu"),
    ((6, 5, 7), (5, 1), 1, "sum", "tanh"),
    ((6, 5, 7), (), (1, 2), "mean", "softplus"),
    ((3, 4, 5, 6), (4, 5, 6), (1, 3), "sum", "sigmoid"),
    ((3, 4, 5, 6), (4, 5, 1), (-1, -3), "mean", "elu"),
    ((0, 5, 7), (5, 7), -1, "sum", "gelu"),
    ((6, 5, 7), (5, 7), -1, "sum", square_minus),
]


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize(
    "x_shape,weight_shape,reduce_axis,reduction,activation",
    USER_CALLS,
    ids=lambda v: v.__name__ if callable(v) else str(v),
)
def test_value_and_gradients_match_spatial_ops_reference(
    rng, x_shape, weight_shape, reduce_axis, reduction, activation, use_bias
):
    x, kernel, bias = draw_operands(rng, x_shape, weight_shape, lambda v: v, use_bias=use_bias)
    kwargs = dict(activation=activation, reduce_axis=reduce_axis, reduction=reduction)
    operands = [tf.constant(a) for a in (x, kernel, bias) if a is not None]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        y = (
            spatial_ops.reference.spatial_dense(*operands, **kwargs)
            if use_bias
            else spatial_ops.reference.spatial_dense(*operands, None, **kwargs)
        )
    dy = rng.normal(size=y.shape)
    want = tape.gradient(y, operands, output_gradients=tf.constant(dy))
    got_y, got = numpy_reference.value_and_gradients(x, kernel, bias, dy, **kwargs)
    assert_close(got_y, y, "float64", "y")
    assert len(got) == len(want)
    for name, g, w in zip(("dx", "dkernel", "dbias"), got, want):
        assert_close(g, w, "float64", name)
