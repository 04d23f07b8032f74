"""Property-based tests: for any valid call (rank 2 to 5, sizes with 1s,
primes and empty axes, broadcast weights, any reduced axes, reduction,
activation, dtype, with or without bias) the fused forward and its gradients
agree with the reference. The Hypothesis profile (tests/conftest.py) sets how
many examples run and whether they are the same every run."""

import math

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

import spatial_ops
from helpers.reference_checks import assert_close_at_scale, forward_and_gradients, rounded_to, term_magnitudes
from helpers.support import ACTIVATIONS, DTYPES, draw_operands, numpy_dtype, reference_dtype

pytestmark = pytest.mark.sanitized

# Axis sizes: 1 (broadcast-like), primes, 0 (an empty axis), and sizes whose
# products cross the kernels' 4096-element spatial blocks.
SPATIAL_SIZES = (1, 2, 3, 5, 7, 11, 13, 31, 67, 0)
BATCH_SIZES = (1, 2, 3, 5, 7, 0)
MAX_SPATIAL_ELEMENTS = 4500  # one example stays well under a millisecond of kernel time


@st.composite
def spatial_shapes(draw, rank):
    """rank - 1 sizes whose product of nonzero sizes stays small."""
    sizes, budget = [], MAX_SPATIAL_ELEMENTS
    for _ in range(rank - 1):
        size = draw(st.sampled_from([s for s in SPATIAL_SIZES if s <= budget]))
        sizes.append(size)
        budget //= max(size, 1)
    return tuple(sizes)


@st.composite
def broadcast_shapes(draw, spatial):
    """spatial itself half the time, else a shape that broadcasts to it: some
    trailing axes, each kept or 1."""
    if draw(st.booleans()):
        return spatial
    kept = draw(st.integers(0, len(spatial)))
    return tuple(size if draw(st.booleans()) else 1 for size in spatial[len(spatial) - kept :])


@st.composite
def reduce_axes(draw, rank):
    """None, one axis or several, each written positive or negative, in any order."""
    axes = draw(st.lists(st.integers(1, rank - 1), unique=True, max_size=rank - 1))
    written = [axis - rank if draw(st.booleans()) else axis for axis in axes]
    if not written:
        return None
    if len(written) == 1 and draw(st.booleans()):
        return written[0]
    return tuple(draw(st.permutations(written)))


@st.composite
def calls(draw):
    """A valid spatial_dense call: shapes, weights, options and a NumPy seed."""
    rank = draw(st.integers(2, 5))
    spatial = draw(spatial_shapes(rank))
    case = draw(st.sampled_from(ACTIVATIONS))
    kernel_shape = draw(broadcast_shapes(spatial))
    use_bias = draw(st.booleans())
    # Kinks are kept away from z only when kernel and bias share a shape
    # (draw_operands); smooth activations also get a bias of its own shape.
    bias_shape = draw(broadcast_shapes(spatial)) if use_bias and not case.kinks else kernel_shape
    return dict(
        x_shape=(draw(st.sampled_from(BATCH_SIZES)),) + spatial,
        kernel_shape=kernel_shape,
        bias_shape=bias_shape,
        use_bias=use_bias,
        case=case,
        dtype=draw(st.sampled_from(DTYPES)),
        reduce_axis=draw(reduce_axes(rank)),
        reduction=draw(st.sampled_from(("sum", "mean"))),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def operands(call):
    rng = np.random.default_rng(call["seed"])
    x, kernel, bias = draw_operands(
        rng, call["x_shape"], call["kernel_shape"], call["dtype"], call["case"].kinks, use_bias=call["use_bias"]
    )
    if call["use_bias"] and call["bias_shape"] != call["kernel_shape"]:
        bias = draw_operands(rng, call["x_shape"], call["bias_shape"], call["dtype"])[2]
    return x, kernel, bias


def record_events(call):
    """Tallies of what the examples covered (--hypothesis-show-statistics)."""
    x_shape, spatial = call["x_shape"], call["x_shape"][1:]
    event(f"{call['dtype'].name}, rank {len(x_shape)}")
    event("empty batch" if x_shape[0] == 0 else "empty spatial axis" if 0 in spatial else "non-empty")
    event("broadcast kernel" if call["kernel_shape"] != spatial else "full kernel")
    event(
        "no bias"
        if not call["use_bias"]
        else "bias of its own shape"
        if call["bias_shape"] != call["kernel_shape"]
        else "bias"
    )
    event(f"reduce_axis {type(call['reduce_axis']).__name__}, {call['reduction']}")
    event("several spatial blocks" if math.prod(spatial) > 4096 else "one spatial block")


def check_against_reference(call, fused_fn):
    """fused_fn(x, kernel, bias, **options) and its gradients against the
    reference for the call; the sums compared at the scale of their terms."""
    dtype = call["dtype"]
    note(f"x {call['x_shape']}, kernel {call['kernel_shape']}, bias {call['bias_shape']}")
    options = dict(activation=call["case"].activation, reduce_axis=call["reduce_axis"], reduction=call["reduction"])
    x, kernel, bias = operands(call)
    ref_type = numpy_dtype(reference_dtype(dtype))
    y_shape = spatial_ops.reference.spatial_dense(x[:0], kernel, bias, **options).shape[1:]
    dy = np.random.default_rng(call["seed"] + 1).normal(size=(x.shape[0], *y_shape))
    dy = dy.astype(numpy_dtype(dtype))

    fused, fused_grads = forward_and_gradients(fused_fn, x, kernel, bias, dy, **options)
    as_ref = tuple(None if a is None else a.astype(ref_type) for a in (x, kernel, bias, dy))
    expected, expected_grads = forward_and_gradients(spatial_ops.reference.spatial_dense, *as_ref, **options)
    magnitudes = term_magnitudes(*as_ref, **options)

    names = ("dx", "dkernel", "dbias")[: len(expected_grads)]
    assert len(fused_grads) == len(names) == (3 if bias is not None else 2)
    for name, got, want in zip(("y",) + names, (fused, *fused_grads), (expected, *expected_grads)):
        assert got.dtype == dtype, name
        assert_close_at_scale(got, rounded_to(dtype, want), dtype, magnitudes[name], what=name)


@given(calls())
def test_fused_matches_reference_forward_and_gradients(call):
    record_events(call)
    check_against_reference(call, spatial_ops.spatial_dense)


# Each example traces a new graph: a fifth as many examples as the profile's.
@settings(max_examples=max(10, settings().max_examples // 5))
@given(calls())
def test_fused_matches_reference_with_unknown_dimensions(call):
    """The same, traced with every dimension unknown: the shapes reach the
    canonical view and the kernels' checks at run time only."""
    unknown = lambda shape: tf.TensorSpec([None] * len(shape), call["dtype"])
    signature = [unknown(call["x_shape"]), unknown(call["kernel_shape"])]

    def fused_fn(x, kernel, bias, **options):
        if bias is None:
            traced = tf.function(lambda x, k: spatial_ops.spatial_dense(x, k, **options), input_signature=signature)
            return traced(x, kernel)
        traced = tf.function(
            lambda x, k, b: spatial_ops.spatial_dense(x, k, b, **options),
            input_signature=signature + [unknown(call["bias_shape"])],
        )
        return traced(x, kernel, bias)

    check_against_reference(call, fused_fn)
