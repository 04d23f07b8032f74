"""The CUDA kernels through the pybind11 binding, on PyTorch tensors (CUDA
array interface, or DLPack for bfloat16) and CuPy arrays, against the float64
NumPy reference: every activation, reduction, derivative order and dtype;
sizes that are no multiple of the vector width or the block; misaligned
views; empty batches; split reductions; reproducibility; streams. Outputs are
filled with NaN before every launch, so an element the kernels fail to write
shows. Skips without a CUDA device."""

import os

import numpy as np
import pytest
from gpu_support import BY_ID, CASES, DTYPES, assert_close, draw_operands

from helpers import numpy_reference

# Under compute-sanitizer (scripts/gpu/run_on_gpu.sh) every launch is slow:
# there, the activation matrix runs for a sample of the activations only.
MATRIX_CASES = CASES[::6] if os.environ.get("SPATIAL_OPS_GPU_SANITIZER") == "1" else CASES
REDUCTIONS = ("none", "sum", "mean")


class Device:
    """Moves float64 NumPy data to CUDA tensors of one dtype and back."""

    def __init__(self, torch, dtype_name):
        self.torch = torch
        self.dtype_name = dtype_name
        self.dtype = getattr(torch, dtype_name)

    def round(self, values):
        """values rounded to the dtype, as float64."""
        tensor = self.torch.from_numpy(np.asarray(values, np.float64)).to(self.dtype)
        return tensor.to(self.torch.float64).numpy()

    def put(self, values):
        if values is None:
            return None
        return self.torch.from_numpy(np.asarray(values, np.float64)).to(device="cuda", dtype=self.dtype)

    def poisoned(self, shape):
        return self.torch.full(tuple(shape), float("nan"), dtype=self.dtype, device="cuda")

    def get(self, tensor):
        self.torch.cuda.synchronize()
        return tensor.to(self.torch.float64).cpu().numpy()


def output_shape(x_shape, reduction):
    batch, outer, reduced, inner = x_shape
    return x_shape if reduction == "none" else (batch, outer, inner)


def forward(core, device, x, kernel, bias, case, reduction="none", order=0):
    y = device.poisoned(output_shape(x.shape, reduction))
    result = core.forward(
        device.put(x), device.put(kernel), device.put(bias), case.table_row, list(case.params), reduction, order, out=y
    )
    assert result is y
    return device.get(y)


def backward(core, device, dy, x, kernel, bias, case, reduction="none", order=0):
    out = (
        device.poisoned(x.shape),
        device.poisoned(kernel.shape),
        None if bias is None else device.poisoned(kernel.shape),
    )
    result = core.backward(
        device.put(dy),
        device.put(x),
        device.put(kernel),
        device.put(bias),
        case.table_row,
        list(case.params),
        reduction,
        order,
        out=out,
    )
    assert all(r is o for r, o in zip(result, out))
    return [None if t is None else device.get(t) for t in out]


def check(core, device, rng, x_shape, case, reduction, order=0, use_bias=True):
    """Forward and backward on fresh operands against the reference, which is
    rounded to the dtype (where the exact value is beyond float16's range,
    Inf is the right answer)."""
    dtype = device.dtype_name
    x, kernel, bias = draw_operands(rng, x_shape, x_shape[1:], device.round, case.kinks, use_bias)
    dy = device.round(rng.normal(size=output_shape(x_shape, reduction)))
    args = (case.table_row, case.params, reduction, order)
    assert_close(
        forward(core, device, x, kernel, bias, case, reduction, order),
        device.round(numpy_reference.forward(x, kernel, bias, *args)),
        dtype,
        "y",
    )
    got = backward(core, device, dy, x, kernel, bias, case, reduction, order)
    want = numpy_reference.backward(dy, x, kernel, bias, *args)
    for name, g, w in zip(("dx", "dkernel", "dbias"), got, want):
        if w is None:
            assert g is None
        else:
            assert_close(g, device.round(w), dtype, name)


# Reduced runs that are contiguous (inner 1, R a multiple of every vector
# width) and odd sizes everywhere (no 16-byte accesses).
MATRIX_SHAPES = {"runs": (6, 3, 40, 1), "odd": (5, 2, 7, 13)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", [0, 1], ids=["value", "derivative"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", MATRIX_CASES, ids=lambda c: c.id)
@pytest.mark.parametrize("shape", MATRIX_SHAPES.values(), ids=MATRIX_SHAPES.keys())
def test_every_activation_reduction_order_and_dtype(torch_cuda, cuda_core, rng, shape, case, reduction, order, dtype):
    check(cuda_core, Device(torch_cuda, dtype), rng, shape, case, reduction, order)


# Around the vector widths (2, 4, 8 elements) and the block (256 threads).
# Reduced runs with inner C = W - 1 (3 for float32, 7 for the half types):
# a chunk of W elements then starts and ends on the same dy.
EDGE_SHAPES = [
    (1, 1, 1, 1),
    (3, 1, 1, 7),
    (2, 1, 9, 1),
    (2, 3, 1, 17),
    (7, 1, 1, 255),
    (3, 1, 257, 1),
    (2, 2, 3, 1000),
    (1, 5, 1, 8),
    (9, 1, 16, 2),
    (4, 2, 33, 3),
    (3, 2, 5, 7),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", EDGE_SHAPES, ids=str)
def test_sizes_around_vector_width_and_block(torch_cuda, cuda_core, rng, shape, reduction, dtype):
    case = BY_ID["gelu"]  # no kinks: every element is checked
    check(cuda_core, Device(torch_cuda, dtype), rng, shape, case, reduction, use_bias=bool(shape[0] % 2))


# Shapes whose work is split for parallelism: reduced runs in segments
# combined over several passes, batches summed in many groups.
SPLIT_SHAPES = {
    "long run, one row": (1, 1, 1 << 20, 1),
    "long runs along inner": (2, 1, 1 << 16, 3),
    "tall batch, tiny rows": (100_000, 1, 3, 3),
    "tall batch, wide rows": (2048, 4, 1, 64),
}


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SPLIT_SHAPES.values(), ids=SPLIT_SHAPES.keys())
def test_split_work_matches_the_reference(torch_cuda, cuda_core, rng, shape, reduction, dtype):
    check(cuda_core, Device(torch_cuda, dtype), rng, shape, BY_ID["silu"], reduction)


def views_at_offset(torch, device, values, offset, guard):
    """values in a CUDA tensor that starts `offset` elements into a larger
    buffer filled with `guard`, so the view is not 16-byte aligned."""
    values = np.asarray(values, np.float64)
    buffer = torch.full((values.size + offset + 8,), guard, dtype=device.dtype, device="cuda")
    view = buffer[offset : offset + values.size].view(values.shape)
    view.copy_(torch.from_numpy(values).to(device="cuda", dtype=device.dtype))
    return buffer, view


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_misaligned_views_give_the_same_bits_and_stay_in_bounds(torch_cuda, cuda_core, rng, reduction, dtype):
    """Views one element into their buffers take the element-wise path; the
    sums run in the same order whatever the alignment, so every bit agrees
    with the aligned call; the guard elements around each view stay intact."""
    torch, device, case = torch_cuda, Device(torch_cuda, dtype), BY_ID["sigmoid"]
    shape = (6, 2, 24, 8)
    x, kernel, bias = draw_operands(rng, shape, shape[1:], device.round)
    dy = device.round(rng.normal(size=output_shape(shape, reduction)))
    guard = 7.0
    views = {}
    for name, values in (("x", x), ("kernel", kernel), ("bias", bias), ("dy", dy)):
        views[name] = views_at_offset(torch, device, values, 1, guard)
    outputs = {}
    for name, like in (
        ("y", np.zeros(output_shape(shape, reduction))),
        ("dx", x),
        ("dkernel", kernel),
        ("dbias", kernel),
    ):
        outputs[name] = views_at_offset(torch, device, np.full(like.shape, np.nan), 1, guard)
    args = (case.table_row, list(case.params), reduction, 0)
    cuda_core.forward(views["x"][1], views["kernel"][1], views["bias"][1], *args, out=outputs["y"][1])
    cuda_core.backward(
        views["dy"][1],
        views["x"][1],
        views["kernel"][1],
        views["bias"][1],
        *args,
        out=(outputs["dx"][1], outputs["dkernel"][1], outputs["dbias"][1]),
    )
    aligned_y = forward(cuda_core, device, x, kernel, bias, case, reduction)
    aligned = backward(cuda_core, device, dy, x, kernel, bias, case, reduction)
    for name, want in zip(("y", "dx", "dkernel", "dbias"), [aligned_y, *aligned]):
        buffer, view = outputs[name]
        np.testing.assert_array_equal(device.get(view), want, err_msg=name)
        host = device.get(buffer)
        assert host[0] == guard and (host[1 + view.numel() :] == guard).all(), f"{name}: wrote out of bounds"
    for name, (buffer, view) in views.items():
        host = device.get(buffer)
        assert host[0] == guard and (host[1 + view.numel() :] == guard).all(), f"{name} was written"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(100_000, 1, 3, 3), (2048, 4, 1, 64), (1, 1, 1 << 20, 1), (33, 5, 7, 9)], ids=str)
def test_backward_is_bitwise_reproducible(torch_cuda, cuda_core, rng, shape, dtype):
    """The batch sums (dkernel, dbias) and split reductions take a fixed order:
    every run gives the same bits."""
    device, case = Device(torch_cuda, dtype), BY_ID["exponential"]
    x, kernel, bias = draw_operands(rng, shape, shape[1:], device.round)
    for reduction in ("none", "mean"):
        dy = device.round(rng.normal(size=output_shape(shape, reduction)))
        first = [
            forward(cuda_core, device, x, kernel, bias, case, reduction),
            *backward(cuda_core, device, dy, x, kernel, bias, case, reduction),
        ]
        for _ in range(3):
            again = [
                forward(cuda_core, device, x, kernel, bias, case, reduction),
                *backward(cuda_core, device, dy, x, kernel, bias, case, reduction),
            ]
            for a, b in zip(first, again):
                np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batch(torch_cuda, cuda_core, rng, reduction, dtype):
    """No rows: y is empty, and the weight gradients are sums over nothing."""
    device, case = Device(torch_cuda, dtype), BY_ID["relu"]
    x, kernel, bias = draw_operands(rng, (0, 2, 3, 5), (2, 3, 5), device.round)
    assert forward(cuda_core, device, x, kernel, bias, case, reduction).shape == output_shape(x.shape, reduction)
    dy = np.zeros(output_shape(x.shape, reduction))
    dx, dkernel, dbias = backward(cuda_core, device, dy, x, kernel, bias, case, reduction)
    assert dx.shape == x.shape
    np.testing.assert_array_equal(dkernel, np.zeros(kernel.shape))
    np.testing.assert_array_equal(dbias, np.zeros(kernel.shape))


def test_empty_spatial_axes(torch_cuda, cuda_core):
    device, case = Device(torch_cuda, "float32"), BY_ID["relu"]
    x, kernel = np.zeros((4, 0, 3, 2)), np.zeros((0, 3, 2))
    assert forward(cuda_core, device, x, kernel, kernel, case, "sum").shape == (4, 0, 2)
    assert [g.shape for g in backward(cuda_core, device, np.zeros(x.shape), x, kernel, kernel, case)] == [
        x.shape,
        kernel.shape,
        kernel.shape,
    ]


def test_launch_follows_the_work_queued_on_the_current_stream(torch_cuda, cuda_core, rng):
    """On a side stream, x is written after a long sleep; a launch queued on
    another stream would read it too early."""
    torch, device = torch_cuda, Device(torch_cuda, "float32")
    shape = (64, 4, 32, 32)
    x, kernel, bias = draw_operands(rng, shape, shape[1:], device.round)
    source, x_dev = device.put(x), torch.zeros(shape, device="cuda")
    kernel_dev, bias_dev = device.put(kernel), device.put(bias)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        y = device.poisoned(shape)
        torch.cuda._sleep(100_000_000)
        x_dev.copy_(source)
        cuda_core.forward(x_dev, kernel_dev, bias_dev, "relu", out=y)
        y_explicit = device.poisoned(shape)
    cuda_core.forward(x_dev, kernel_dev, bias_dev, "relu", out=y_explicit, stream=stream.cuda_stream)
    stream.synchronize()
    want = numpy_reference.forward(x, kernel, bias, "relu", ())
    assert_close(device.get(y), device.round(want), "float32")
    assert_close(device.get(y_explicit), device.round(want), "float32")


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_cupy_arrays(cuda_core, rng, dtype):
    """CuPy arrays come through __cuda_array_interface__ (version 3, with
    their stream)."""
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    if cuda_core.cuda_device_count() == 0:
        pytest.skip("no CUDA device")
    case = BY_ID["celu"]
    shape = (5, 3, 20, 4)
    round_to = lambda v: np.asarray(v, dtype).astype(np.float64)  # noqa: E731
    x, kernel, bias = draw_operands(rng, shape, shape[1:], round_to, case.kinks)
    put = lambda v: cupy.asarray(v.astype(dtype))  # noqa: E731
    with cupy.cuda.Stream(non_blocking=True) as stream:
        y = cupy.full((5, 3, 4), cupy.nan, dtype=dtype)
        cuda_core.forward(put(x), put(kernel), put(bias), case.table_row, list(case.params), "mean", out=y)
        stream.synchronize()
    want = numpy_reference.forward(x, kernel, bias, case.table_row, case.params, "mean")
    assert_close(cupy.asnumpy(y).astype(np.float64), round_to(want), dtype)


@pytest.mark.slow
def test_more_than_2_31_elements(torch_cuda, cuda_core):
    """64-bit indexing: an x of 2^31 + 6 half-precision elements, checked in
    full against the same arithmetic in PyTorch (float32 affine rounded after
    the multiply and after the add, then relu, then rounded to half)."""
    torch = torch_cuda
    free, _ = torch.cuda.mem_get_info()
    elements = (1 << 31) + 6
    if free < 8 * elements:
        pytest.skip("needs about 17 GB of free GPU memory")
    generator = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn((2, 1, 1, elements // 2), device="cuda", dtype=torch.float16, generator=generator)
    kernel = torch.randn((1, 1, elements // 2), device="cuda", dtype=torch.float16, generator=generator)
    y = torch.full_like(x, float("nan"))
    cuda_core.forward(x, kernel, None, "relu", out=y)
    for row in range(2):
        for part in torch.split(torch.arange(elements // 2, device="cuda"), 1 << 28):
            z = x[row, 0, 0, part].float() * kernel[0, 0, part].float()
            assert torch.equal(y[row, 0, 0, part], torch.relu(z).half()), f"row {row}"
