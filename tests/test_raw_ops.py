"""The registered ops themselves, past every Python check: any rank with the
reduced run of axes as attributes, and hostile input: wrong ranks,
mismatched or zero-size dimensions, absurd attributes, wrong
dtypes, in eager mode and in graphs whose shapes are unknown until run time.
Bad input is always an InvalidArgumentError naming the shapes (or the
attribute); zero-size input is valid and gives what the reference gives.
Never a crash: scripts/sanitize.sh runs this file under AddressSanitizer and
UndefinedBehaviorSanitizer."""

import re

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import assert_close, numpy_dtype
from spatial_ops.tensorflow._loader import LIBRARY

pytestmark = pytest.mark.sanitized

forward_op = LIBRARY.spatial_ops_spatial_dense
backward_op = LIBRARY.spatial_ops_spatial_dense_grad
f32 = lambda *shape: tf.zeros(shape, tf.float32)
GOOD = dict(x=(2, 1, 3, 4), kernel=(1, 3, 4), bias=(1, 3, 4))


def forward(x=GOOD["x"], kernel=GOOD["kernel"], bias=GOOD["bias"], **attrs):
    return forward_op(f32(*x), f32(*kernel), f32(*bias), **attrs)


def backward(dy, x=GOOD["x"], kernel=GOOD["kernel"], bias=GOOD["bias"], **attrs):
    return backward_op(f32(*dy), f32(*x), f32(*kernel), f32(*bias), **attrs)


BAD_SHAPES = [
    # x must have a batch axis and at least one spatial axis.
    (dict(x=()), r"x must have rank >= 2.*got x \[\], kernel \[1, 3, 4\]"),
    (dict(x=(12,)), r"x must have rank >= 2.*got x \[12\]"),
    # The kernel must be x's dimensions after the batch.
    (dict(x=(2, 12)), r"kernel must be \(d1, \.\.\., dk\).*got x \[2, 12\], kernel \[1, 3, 4\]"),
    (dict(x=(2, 3, 4)), r"kernel must be \(d1, \.\.\., dk\).*got x \[2, 3, 4\]"),
    (dict(x=(2, 1, 3, 4, 1)), r"kernel must be \(d1, \.\.\., dk\).*got x \[2, 1, 3, 4, 1\]"),
    (dict(kernel=()), r"kernel must be \(d1, \.\.\., dk\).*kernel \[\]"),
    (dict(kernel=(3, 4)), r"kernel must be.*x \[2, 1, 3, 4\], kernel \[3, 4\]"),
    (dict(kernel=(1, 1, 3, 4)), r"kernel must be.*kernel \[1, 1, 3, 4\]"),
    (dict(kernel=(2, 3, 4)), r"kernel must be.*kernel \[2, 3, 4\]"),
    (dict(kernel=(1, 4, 4)), r"kernel must be.*kernel \[1, 4, 4\]"),
    (dict(kernel=(1, 3, 5)), r"kernel must be.*kernel \[1, 3, 5\]"),
    (dict(kernel=(1, 3, 1)), r"kernel must be.*kernel \[1, 3, 1\]"),  # no broadcasting here
    (dict(kernel=(0, 3, 4)), r"kernel must be.*kernel \[0, 3, 4\]"),
    # So must the bias, or [0] without one.
    (dict(bias=()), r"bias must be \(d1, \.\.\., dk\).*bias \[\]"),
    (dict(bias=(0,)), r"bias must be \(d1, \.\.\., dk\).*bias \[0\]"),
    (dict(bias=(3, 4)), r"bias must be.*bias \[3, 4\]"),
    (dict(bias=(1, 3, 5)), r"bias must be.*bias \[1, 3, 5\]"),
    (dict(bias=(1, 3, 4, 1)), r"bias must be.*bias \[1, 3, 4, 1\]"),
    (dict(bias=(1, 3, 4), has_bias=False), r"bias must be \[0\] when has_bias is false.*bias \[1, 3, 4\]"),
    (dict(bias=(), has_bias=False), r"bias must be \[0\] when has_bias is false.*bias \[\]"),
    (dict(bias=(1,), has_bias=False), r"bias must be \[0\] when has_bias is false.*bias \[1\]"),
    (dict(bias=(0, 0), has_bias=False), r"bias must be \[0\] when has_bias is false.*bias \[0, 0\]"),
    # Mismatches next to zero-size dimensions.
    (dict(x=(0, 1, 3, 4), kernel=(1, 3, 5)), r"kernel must be.*x \[0, 1, 3, 4\], kernel \[1, 3, 5\]"),
    (dict(x=(2, 0, 3, 4), kernel=(1, 3, 4), bias=(0, 3, 4)), r"kernel must be.*x \[2, 0, 3, 4\]"),
    (dict(x=(2, 1, 3, 0), kernel=(1, 3, 0), bias=(1, 3, 1)), r"bias must be.*bias \[1, 3, 1\]"),
]


@pytest.mark.parametrize("shapes,match", BAD_SHAPES, ids=[str(s) for s, _ in BAD_SHAPES])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_bad_shapes_are_refused_naming_them(shapes, match, reduction):
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        forward(reduction=reduction, **shapes)
    dy = (2, 1, 3, 4) if reduction == "none" else (2, 1, 4)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        backward(dy, reduction=reduction, **shapes)


@pytest.mark.parametrize(
    "dy,reduction",
    [
        ((), "none"),
        ((2, 1, 3), "none"),
        ((2, 1, 3, 5), "none"),
        ((1, 1, 3, 4), "none"),
        ((2, 1, 3, 4, 1), "none"),
        ((2, 1, 3, 4), "sum"),
        ((2, 1, 3), "mean"),
        ((2, 4), "sum"),
        ((0, 1, 4), "sum"),
    ],
    ids=str,
)
def test_bad_dy_is_refused_naming_it(dy, reduction):
    expected = "[2, 1, 3, 4]" if reduction == "none" else "[2, 1, 4]"
    dy_text = "[" + ", ".join(map(str, dy)) + "]"
    message = f"dy must have the forward output's shape {expected}, got dy {dy_text} for x [2, 1, 3, 4]"
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
        backward(dy, reduction=reduction)


BAD_REDUCED_AXES = [(0, 1), (0, 4), (2, 2), (3, 2), (2, 5), (4, 5), (-1, 2), (1, 2**40)]


@pytest.mark.parametrize("begin,end", BAD_REDUCED_AXES, ids=str)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_bad_reduced_axes_are_refused_naming_them(begin, end, reduction):
    """The batch axis is never reduced, and the run must lie inside x."""
    attrs = dict(reduction=reduction, reduce_begin=begin, reduce_end=end)
    match = re.escape(
        f"[reduce_begin, reduce_end) = [{begin}, {end}) must satisfy "
        "1 <= reduce_begin < reduce_end <= rank 4 of x [2, 1, 3, 4]"
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        forward(**attrs)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        backward((2, 1, 4), **attrs)
    traced = tf.function(lambda x: forward_op(x, f32(1, 3, 4), f32(1, 3, 4), **attrs))
    with pytest.raises(ValueError, match=r"reduce_begin < reduce_end <= rank 4"):
        traced.get_concrete_function(tf.TensorSpec([2, 1, 3, 4]))


@pytest.mark.parametrize(
    "params,same_as",
    [
        ((0.0, float("inf"), 0.0), dict(activation="relu")),
        ((0.15, float("inf"), 0.0), dict(activation="leaky_relu", activation_params=[repr(float(np.float32(0.15)))])),
    ],
    ids=["relu", "leaky_relu"],
)
def test_relu_general_without_max_or_threshold_is_its_simpler_row(rng, params, same_as):
    """The two parameter patterns of relu_general the Python side never sends
    (it picks relu or leaky_relu) still give their rows' results."""
    x = tf.constant(rng.normal(size=(3, 2, 5, 4)).astype(np.float32))
    kernel, bias = (tf.constant(rng.normal(size=(2, 5, 4)).astype(np.float32)) for _ in range(2))
    general = dict(activation="relu_general", activation_params=[repr(p) for p in params])
    np.testing.assert_array_equal(forward_op(x, kernel, bias, **general), forward_op(x, kernel, bias, **same_as))
    dy = tf.constant(rng.normal(size=x.shape).astype(np.float32))
    for got, want in zip(backward_op(dy, x, kernel, bias, **general), backward_op(dy, x, kernel, bias, **same_as)):
        np.testing.assert_array_equal(got, want)


def test_reduced_axes_are_ignored_without_a_reduction():
    y = forward(reduction="none", reduce_begin=0, reduce_end=9)
    assert y.shape == GOOD["x"]


def _reduced_runs(rank):
    return [(begin, end) for begin in range(1, rank) for end in range(begin + 1, rank + 1)]


ANY_RANK = [((5, 7), run) for run in [None] + _reduced_runs(2)]
ANY_RANK += [((2, 3, 4), run) for run in [None] + _reduced_runs(3)]
ANY_RANK += [((3, 2, 1, 5, 2), run) for run in [None] + _reduced_runs(5)]


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("x_shape,run", ANY_RANK, ids=str)
def test_any_rank_and_reduced_run_give_what_the_reference_gives(rng, x_shape, run, reduction):
    """x of any rank >= 2 as it is, weights (d1, ..., dk), the reduced run
    [reduce_begin, reduce_end) as attributes: forward and all gradients."""
    x, kernel, bias = (tf.constant(rng.normal(size=shape)) for shape in (x_shape, x_shape[1:], x_shape[1:]))
    if run is None:
        attrs, reduce = dict(reduction="none"), dict(reduce_axis=None)
    else:
        attrs = dict(reduction=reduction, reduce_begin=run[0], reduce_end=run[1])
        reduce = dict(reduce_axis=tuple(range(*run)), reduction=reduction)
    with tf.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        expected = spatial_ops.reference.spatial_dense(x, kernel, bias, activation="elu", **reduce)
    y = forward_op(x, kernel, bias, activation="elu", activation_params=["1.0"], **attrs)
    assert y.shape == expected.shape
    assert_close(y, expected, tf.float64)
    dy = tf.constant(rng.normal(size=expected.shape))
    grads = backward_op(dy, x, kernel, bias, activation="elu", activation_params=["1.0"], **attrs)
    for got, want in zip(grads, tape.gradient(expected, [x, kernel, bias], output_gradients=dy)):
        assert_close(got, want, tf.float64)


BAD_ATTRS = [
    (dict(activation=""), r"unknown activation ''"),
    (dict(activation="nope"), r"unknown activation 'nope'; fused activations are: linear, relu"),
    (dict(activation="Relu"), r"unknown activation 'Relu'"),
    (dict(activation="relu\0junk"), r"unknown activation"),
    (dict(activation="r\u00e9lu"), r"unknown activation"),
    (dict(activation="x" * 100000), r"unknown activation 'xxxx"),
    (dict(activation="linear", activation_params=["1"]), r"'linear' takes 0 parameter\(s\), got 1"),
    (dict(activation="elu"), r"'elu' takes 1 parameter\(s\), got 0"),
    (dict(activation="elu", activation_params=["1", "2"]), r"'elu' takes 1 parameter\(s\), got 2"),
    (dict(activation="relu_general", activation_params=["0", "6"]), r"takes 3 parameter\(s\), got 2"),
    (dict(activation="linear", activation_params=["0"] * 10000), r"takes 0 parameter\(s\), got 10000"),
    (dict(activation="elu", activation_params=["one"]), r"decimal numbers, got 'one'"),
    (dict(activation="elu", activation_params=[""]), r"decimal numbers, got ''"),
    (dict(activation="elu", activation_params=[" 1"]), r"decimal numbers, got ' 1'"),
    (dict(activation="elu", activation_params=["1 "]), r"decimal numbers, got '1 '"),
    (dict(activation="elu", activation_params=["1e400"]), r"decimal numbers, got '1e400'"),
    (dict(activation="elu", activation_params=["nan"]), r"NaN parameter"),
    (dict(activation="elu", activation_params=["-nan"]), r"NaN parameter"),
    (dict(derivative_order=-1), r"derivative_order must be 0 or 1, got -1"),
    (dict(derivative_order=2), r"derivative_order must be 0 or 1, got 2"),
    (dict(derivative_order=2**62), r"derivative_order must be 0 or 1, got 4611686018427387904"),
    (dict(reduction="max"), r"reduction"),
    (dict(reduction=""), r"reduction"),
]


@pytest.mark.parametrize("attrs,match", BAD_ATTRS, ids=range(len(BAD_ATTRS)))
def test_bad_attributes_are_refused_naming_them(attrs, match):
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        forward(**attrs)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        backward(GOOD["x"], **attrs)


@pytest.mark.parametrize(
    "make",
    [
        lambda: forward_op(
            tf.zeros([2, 1, 3, 4], tf.int32), tf.zeros([1, 3, 4], tf.int32), tf.zeros([1, 3, 4], tf.int32)
        ),
        lambda: forward_op(
            tf.zeros([2, 1, 3, 4], tf.complex64), tf.zeros([1, 3, 4], tf.complex64), tf.zeros([1, 3, 4], tf.complex64)
        ),
        lambda: forward_op(f32(2, 1, 3, 4), tf.zeros([1, 3, 4], tf.float64), f32(1, 3, 4)),
        lambda: forward_op(f32(2, 1, 3, 4), f32(1, 3, 4), tf.zeros([1, 3, 4], tf.float16)),
        lambda: backward_op(tf.zeros([2, 1, 3, 4], tf.bfloat16), f32(2, 1, 3, 4), f32(1, 3, 4), f32(1, 3, 4)),
    ],
    ids=["int32", "complex64", "kernel float64", "bias float16", "dy bfloat16"],
)
def test_wrong_dtypes_are_refused(make):
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"(not in the list of allowed values|expected to be a float tensor|"
        r"cannot compute .* as input)",
    ):
        make()


ZERO_SIZE = [(0, 1, 3, 4), (2, 0, 3, 4), (2, 1, 0, 4), (2, 1, 3, 0), (0, 0, 0, 0), (3, 2, 0, 0)]


@pytest.mark.parametrize("dtype", [tf.float32, tf.bfloat16], ids=lambda d: d.name)
@pytest.mark.parametrize("has_bias", [True, False])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("x_shape", ZERO_SIZE, ids=str)
def test_zero_size_dimensions_give_what_the_reference_gives(rng, x_shape, reduction, has_bias, dtype):
    """Any dimension 0: the output shapes of the canonical view, and values
    as the reference's (a sum over nothing is 0, a mean NaN)."""
    np_dtype = numpy_dtype(dtype)
    x = rng.normal(size=x_shape).astype(np_dtype)
    kernel = rng.normal(size=x_shape[1:]).astype(np_dtype)
    bias = rng.normal(size=x_shape[1:]).astype(np_dtype) if has_bias else np.zeros([0], np_dtype)
    attrs = dict(activation="softplus", reduction=reduction, has_bias=has_bias)
    y = forward_op(x, kernel, bias, **attrs)
    reduce = dict(reduce_axis=None if reduction == "none" else 2, reduction="sum" if reduction == "none" else reduction)
    expected = spatial_ops.reference.spatial_dense(
        x, kernel, bias if has_bias else None, activation="softplus", **reduce
    )
    assert_close(y, expected, dtype)

    dy = rng.normal(size=y.shape).astype(np_dtype)
    dx, dkernel, dbias = backward_op(dy, x, kernel, bias, **attrs)
    assert dx.shape == x_shape and dkernel.shape == x_shape[1:] and dbias.shape == bias.shape
    operands = [tf.constant(a) for a in ((x, kernel, bias) if has_bias else (x, kernel))]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        out = spatial_ops.reference.spatial_dense(
            *operands, *([] if has_bias else [None]), activation="softplus", **reduce
        )
    expected_grads = tape.gradient(out, operands, output_gradients=tf.constant(dy))
    for got, want in zip((dx, dkernel, dbias), expected_grads):
        assert_close(got, want, dtype)


def test_huge_dimensions_of_an_empty_tensor_fail_cleanly():
    """x [2**40, 1, 0, 5] holds nothing, but its sum over the empty axis would
    be 5 * 2**40 elements: an allocation error naming that shape."""
    with pytest.raises(tf.errors.ResourceExhaustedError, match=r"1099511627776,1,5"):
        forward_op(f32(2**40, 1, 0, 5), f32(1, 0, 5), f32(1, 0, 5), reduction="sum")


UNKNOWN = tf.TensorSpec(None, tf.float32)


@pytest.mark.parametrize("shapes,match", BAD_SHAPES[::2], ids=[str(s) for s, _ in BAD_SHAPES[::2]])
def test_bad_shapes_unknown_until_run_time_are_refused_by_the_kernel(shapes, match):
    """In a graph traced with unknown ranks the shape function lets anything
    through; the kernels' own checks refuse it when it runs."""
    attrs = {k: v for k, v in shapes.items() if k == "has_bias"}
    shapes = dict(GOOD, **{k: v for k, v in shapes.items() if k != "has_bias"})
    traced = tf.function(lambda x, k, b: forward_op(x, k, b, **attrs), input_signature=[UNKNOWN] * 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        traced(f32(*shapes["x"]), f32(*shapes["kernel"]), f32(*shapes["bias"]))
    traced_grad = tf.function(lambda dy, x, k, b: backward_op(dy, x, k, b, **attrs), input_signature=[UNKNOWN] * 4)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        traced_grad(f32(2, 1, 3, 4), f32(*shapes["x"]), f32(*shapes["kernel"]), f32(*shapes["bias"]))


def test_known_bad_shapes_are_refused_when_a_graph_is_traced():
    """With static shapes the shape function refuses a mismatch at trace time."""
    fn = tf.function(lambda x, k: forward_op(x, k, tf.zeros([1, 3, 4])))
    with pytest.raises(ValueError, match="Dimension"):
        fn.get_concrete_function(tf.TensorSpec([2, 1, 3, 4]), tf.TensorSpec([1, 3, 5]))
    with pytest.raises(ValueError, match="rank"):
        fn.get_concrete_function(tf.TensorSpec([2, 3, 4]), tf.TensorSpec([1, 3, 4]))
    with pytest.raises(ValueError, match="rank"):
        fn.get_concrete_function(tf.TensorSpec([2]), tf.TensorSpec([1, 3, 4]))


def test_static_output_shapes_of_any_rank():
    """The shape functions give y without the reduced run, and the gradients
    the operands' shapes, with unknown dimensions where x has them."""
    x_spec = tf.TensorSpec([None, 6, 5, 4, 3])
    attrs = dict(reduction="sum", reduce_begin=2, reduce_end=4)
    fn = tf.function(lambda x, k: forward_op(x, k, k, **attrs))
    assert fn.get_concrete_function(x_spec, tf.TensorSpec([6, 5, 4, 3])).output_shapes == [None, 6, 3]
    grad = tf.function(lambda dy, x, k: backward_op(dy, x, k, k, **attrs))
    shapes = grad.get_concrete_function(tf.TensorSpec(None), x_spec, tf.TensorSpec([6, 5, 4, 3])).output_shapes
    assert [s.as_list() for s in shapes] == [[None, 6, 5, 4, 3], [6, 5, 4, 3], [6, 5, 4, 3]]


def test_valid_reduced_gradient_shapes():
    """The backward takes dy of the reduced output's shape with a reduction."""
    dx, dkernel, dbias = backward((2, 1, 4), reduction="sum")
    assert [t.shape for t in (dx, dkernel, dbias)] == [(2, 1, 3, 4), (1, 3, 4), (1, 3, 4)]
