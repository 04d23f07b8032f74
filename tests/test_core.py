"""spatial_ops._core: the same kernels on NumPy arrays, without TensorFlow in
the loop (the binding the GPU checks extend to device arrays)."""

import os

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers import numpy_reference
from helpers.processes import run_python
from helpers.support import ACTIVATIONS, assert_close, draw_operands
from spatial_ops import _core
from spatial_ops.activations import resolve

pytestmark = pytest.mark.sanitized


@pytest.mark.parametrize("dtype", [tf.float64, tf.float32, tf.bfloat16, tf.float16], ids=lambda d: d.name)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("case", ACTIVATIONS[::4], ids=lambda c: c.id)
def test_forward_and_backward_match_the_op(rng, case, reduction, dtype):
    x, kernel, bias = draw_operands(rng, (3, 2, 5, 4), (2, 5, 4), dtype, case.kinks)
    act = resolve(case.activation)
    y = _core.forward(x, kernel, bias, act.table_row, list(act.params), reduction)
    reduce_axis = None if reduction == "none" else 2
    expected = spatial_ops.spatial_dense(
        x,
        kernel,
        bias,
        activation=case.activation,
        reduce_axis=reduce_axis,
        reduction="sum" if reduction == "none" else reduction,
    )
    assert y.dtype == x.dtype
    np.testing.assert_array_equal(np.asarray(y, np.float64), tf.cast(expected, tf.float64).numpy())

    dy = rng.normal(size=y.shape).astype(x.dtype)
    dx, dkernel, dbias = _core.backward(dy, x, kernel, bias, act.table_row, list(act.params), reduction)
    operands = [tf.constant(a) for a in (x, kernel, bias)]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        out = spatial_ops.spatial_dense(
            *operands,
            activation=case.activation,
            reduce_axis=reduce_axis,
            reduction="sum" if reduction == "none" else reduction,
        )
    for got, want in zip((dx, dkernel, dbias), tape.gradient(out, operands, tf.constant(dy))):
        assert_close(np.asarray(got, np.float64), want, dtype)


def test_any_rank_with_the_reduced_axes_given(rng):
    """x (batch, d1, ..., dk) as it is; reduce_begin/reduce_end name the run."""
    x, kernel, bias = rng.normal(size=(2, 3, 4, 5, 2)), rng.normal(size=(3, 4, 5, 2)), rng.normal(size=(3, 4, 5, 2))
    y = _core.forward(x, kernel, bias, "linear", [], "sum", reduce_begin=2, reduce_end=4)
    np.testing.assert_allclose(y, (x * kernel + bias).sum(axis=(2, 3)))
    dy = rng.normal(size=y.shape)
    dx, dkernel, dbias = _core.backward(dy, x, kernel, bias, "linear", [], "sum", reduce_begin=2, reduce_end=4)
    spread = dy[:, :, None, None, :]
    np.testing.assert_allclose(dx, spread * kernel)
    np.testing.assert_allclose(dkernel, (spread * x).sum(axis=0))
    np.testing.assert_allclose(dbias, np.broadcast_to(spread, x.shape).sum(axis=0))


def test_no_bias_gives_none_for_dbias(rng):
    x = rng.normal(size=(2, 1, 3, 4))
    kernel = rng.normal(size=(1, 3, 4))
    np.testing.assert_allclose(_core.forward(x, kernel), x * kernel)
    dx, dkernel, dbias = _core.backward(np.ones_like(x), x, kernel)
    assert dbias is None
    np.testing.assert_allclose(dkernel, x.sum(axis=0))


def test_non_contiguous_input_is_accepted(rng):
    x = rng.normal(size=(2, 1, 4, 6))[:, :, :, ::2]
    kernel = rng.normal(size=(1, 4, 3))
    np.testing.assert_allclose(_core.forward(x, kernel), x * kernel)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: _core.forward(np.zeros((2,)), np.zeros((3,))), r"rank >= 2.*x \[2\]"),
        (
            lambda: _core.forward(np.zeros((2, 3)), np.zeros((3,)), reduction="sum"),
            r"\[reduce_begin, reduce_end\) = \[2, 3\) must satisfy .* rank 2 of x \[2, 3\]",
        ),
        (lambda: _core.forward(np.zeros((2, 1, 1, 3)), np.zeros((1, 1, 3), np.float32)), r"mixed dtypes"),
        (lambda: _core.forward(np.zeros((2, 1, 1, 3), np.int32), np.zeros((1, 1, 3), np.int32)), r"int32"),
        (lambda: _core.forward(np.zeros((2, 1, 1, 3)), np.zeros((1, 1, 3)), activation="elu"), r"1 parameter"),
        (lambda: _core.forward(np.zeros((2, 1, 1, 3)), np.zeros((1, 1, 3)), reduction="max"), r"reduction"),
        (lambda: _core.backward(np.zeros((2, 1, 3)), np.zeros((2, 1, 1, 3)), np.zeros((1, 1, 3))), r"dy"),
    ],
    ids=range(7),
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("case", ACTIVATIONS[1::5], ids=lambda c: c.id)
def test_derivative_order_one_is_the_activation_derivative(rng, case):
    x, kernel, bias = draw_operands(rng, (4, 1, 3, 5), (1, 3, 5), tf.float64, case.kinks)
    act = resolve(case.activation)
    slope = _core.forward(x, kernel, bias, act.table_row, list(act.params), derivative_order=1)
    dx = _core.backward(np.ones_like(x), x, kernel, bias, act.table_row, list(act.params))[0]
    np.testing.assert_allclose(slope * kernel, dx, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="derivative_order must be 0 or 1"):
        _core.forward(x, kernel, bias, act.table_row, list(act.params), derivative_order=2)


@pytest.mark.parametrize("dtype", [np.float16, tf.bfloat16.as_numpy_dtype], ids=["float16", "bfloat16"])
@pytest.mark.parametrize("isa", _core.supported_cpu_isas())
def test_half_types_load_and_round_exactly(rng, tmp_path, dtype, isa):
    """Every bit pattern of the half type as x (so every load, subnormals,
    Inf and NaN included), times random half kernels over the whole exponent
    range plus a bias: the linear op computes x * kernel + bias in float32
    and rounds it once to the half type, which must be bit for bit NumPy's
    float32 arithmetic and its round-to-nearest-even conversion (overflow to
    Inf, results in the subnormal range, ties)."""
    x = np.arange(1 << 16, dtype=np.uint16).view(dtype).reshape(4, 1, 128, 128)
    finite = x[np.isfinite(x.astype(np.float32))].astype(np.float32)
    kernel = rng.choice(finite, size=(1, 128, 128)).astype(dtype)
    bias = (rng.choice(finite, size=(1, 128, 128)) * rng.integers(0, 2, (1, 128, 128))).astype(dtype)
    y = _linear_forward_in_build(isa, tmp_path, x, kernel, bias)
    with np.errstate(all="ignore"):
        expected = (x.astype(np.float32) * kernel.astype(np.float32) + bias.astype(np.float32)).astype(dtype)
    nan = np.isnan(expected.astype(np.float32))
    np.testing.assert_array_equal(np.isnan(y.astype(np.float32)), nan)
    np.testing.assert_array_equal(y.view(np.uint16)[~nan], expected.view(np.uint16)[~nan])


def _linear_forward_in_build(isa, directory, x, kernel, bias):
    """_core.forward (linear) in a fresh process that runs the given CPU build."""
    operands, result = directory / f"operands_{isa}.npz", directory / f"y_{isa}.npy"
    np.savez(operands, x=x.view(np.uint16), kernel=kernel.view(np.uint16), bias=bias.view(np.uint16))
    run_python(
        "import sys, ml_dtypes, numpy as np; from spatial_ops import _core\n"
        "dtype = np.dtype(sys.argv[3])  # ml_dtypes registers bfloat16 with NumPy\n"
        "a = np.load(sys.argv[1])\n"
        "np.save(sys.argv[2], _core.forward(*(a[k].view(dtype) for k in ('x', 'kernel', 'bias'))).view(np.uint16))",
        operands,
        result,
        x.dtype.name,
        env=dict(os.environ, SPATIAL_OPS_CPU_ISA=isa, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    return np.load(result).view(x.dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mish_derivatives_keep_their_digits_where_tanh_saturates(dtype):
    """Mish's derivatives hold 1 - tanh(softplus(z))^2, about 4 e^(-2z) for
    large z: formed as 1 - t * t it cancelled and lost all its digits in
    float32 by z = 9."""
    z = np.linspace(3, 9, 6001).astype(dtype)
    x, kernel = z.reshape(1, 1, -1, 1), np.ones((1, z.size, 1), dtype)
    first = _core.forward(x, kernel, None, "mish", [], "none", 1).ravel()
    second = _core.backward(np.ones_like(x), x, kernel, None, "mish", [], "none", 1)[0].ravel()
    _, want_first, want_second = numpy_reference.ROWS["mish"](z.astype(np.float64))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(first, want_first, rtol=rtol)
    np.testing.assert_allclose(second, want_second, rtol=rtol)
