"""x larger than the caches. From 8 MB (kStreamingBytes in
csrc/cpu/streaming.h) the CPU loops prefetch x and dy ahead of use and
write y and dx with non-temporal stores, in chunks whose edges split cache
lines where rows have odd lengths. Values and gradients there against the
reference, in every dtype and every kind of reduction."""

import pytest

import spatial_ops
from helpers.reference_checks import forward_and_gradients
from helpers.support import ACTIVATIONS, DTYPES, assert_close, draw_operands, numpy_dtype, reference_dtype

STREAMING_BYTES = 8 << 20
SPATIAL = (61, 67)  # odd row lengths: chunks and rows end inside cache lines
CASES = {case.id: case for case in ACTIVATIONS}


def streamed_x_shape(dtype):
    """Just over the streaming size: rows run up to the end of x, where the
    prefetch hints must stop."""
    row_bytes = SPATIAL[0] * SPATIAL[1] * dtype.size
    return (STREAMING_BYTES // row_bytes + 3, *SPATIAL)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize(
    "reduce_axis,activation", [(None, "relu"), (-1, "gelu"), (1, "silu"), ((1, 2), "elu")], ids=str
)
def test_streamed_sizes_give_what_the_reference_gives(rng, dtype, reduce_axis, activation):
    case = CASES[activation]
    x_shape = streamed_x_shape(dtype)
    assert x_shape[0] * SPATIAL[0] * SPATIAL[1] * dtype.size >= STREAMING_BYTES
    x, kernel, bias = draw_operands(rng, x_shape, SPATIAL, dtype, case.kinks)
    options = dict(activation=case.activation, reduce_axis=reduce_axis, reduction="mean")
    y_shape = spatial_ops.reference.spatial_dense(x[:1], kernel, bias, **options).shape[1:]
    dy = rng.normal(size=(x_shape[0], *y_shape)).astype(numpy_dtype(dtype))
    fused, fused_grads = forward_and_gradients(spatial_ops.spatial_dense, x, kernel, bias, dy, **options)

    as_reference = lambda a: a.astype(numpy_dtype(reference_dtype(dtype)))
    expected, expected_grads = forward_and_gradients(
        spatial_ops.reference.spatial_dense,
        as_reference(x),
        as_reference(kernel),
        as_reference(bias),
        as_reference(dy),
        **options,
    )
    assert_close(fused, expected, dtype, what="y")
    for name, got, want in zip(("dx", "dkernel", "dbias"), fused_grads, expected_grads):
        assert got.dtype == dtype, name
        assert_close(got, want, dtype, what=name)
