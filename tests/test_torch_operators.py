"""The PyTorch operator library itself (csrc/torch/): the raw operators'
own checks, their Meta implementations under torch.compile with dynamic
shapes for every reduction form, forward and backward, the loader's refusals,
and the CPU threads the kernels run on. Needs no TensorFlow."""

import re
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import spatial_ops.torch as storch  # noqa: E402
from spatial_ops import _core  # noqa: E402
from spatial_ops.torch import _loader  # noqa: E402

OPS = torch.ops.spatial_ops
ATTRS = ("relu", [], "none", True, 0, 2, 3)


def operands(rng, x_shape, weight_shape, dtype=torch.float64):
    return [torch.from_numpy(rng.normal(size=s)).to(dtype) for s in (x_shape, weight_shape, weight_shape)]


@pytest.mark.sanitized
@pytest.mark.parametrize(
    "bad,message",
    [
        (dict(kernel=(3, 5)), r"kernel.*\[3, 5\]|\[3, 5\].*kernel"),
        (dict(bias=(4, 3)), r"bias.*\[4, 3\]|\[4, 3\].*bias"),
        (dict(x=(2,)), r"\[2\]"),
    ],
    ids=["kernel", "bias", "rank"],
)
def test_the_raw_operator_checks_shapes_itself(bad, message):
    shapes = dict(x=(2, 3, 4), kernel=(3, 4), bias=(3, 4)) | bad
    x, kernel, bias = (torch.zeros(shapes[name]) for name in ("x", "kernel", "bias"))
    with pytest.raises(ValueError, match=message):
        OPS.spatial_dense(x, kernel, bias, *ATTRS)
    dy = torch.zeros(shapes["x"])
    with pytest.raises(ValueError, match=message):
        OPS.spatial_dense_grad(dy, x, kernel, bias, *ATTRS)


@pytest.mark.sanitized
def test_the_raw_operator_checks_dtypes_attributes_and_axes():
    x, kernel = torch.zeros(2, 3, 4), torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"mixed dtypes: x is Float \[2, 3, 4\] on cpu but kernel is Double"):
        OPS.spatial_dense(x, kernel.double(), kernel, *ATTRS)
    with pytest.raises(ValueError, match="float16, bfloat16, float32 or float64"):
        OPS.spatial_dense(x.int(), kernel.int(), kernel.int(), *ATTRS)
    with pytest.raises(ValueError, match="activation"):
        OPS.spatial_dense(x, kernel, kernel, "no_such_activation", [], "none", True, 0, 2, 3)
    with pytest.raises(ValueError, match="reduc"):
        OPS.spatial_dense(x, kernel, kernel, "relu", [], "sum", True, 0, 0, 3)
    with pytest.raises(ValueError, match=r"dy"):
        OPS.spatial_dense_grad(torch.zeros(2, 3), x, kernel, kernel, *ATTRS)


# (x shape, reduce_axis, reduction): every form of reduction, several runs included.
REDUCTION_FORMS = [
    ((3, 4, 5), None, "sum"),
    ((3, 4, 5), -1, "sum"),
    ((3, 4, 5), 1, "mean"),
    ((3, 4, 5, 6), (1, 2), "mean"),
    ((3, 4, 5, 6), (1, 3), "sum"),
    ((3, 4, 5, 6), (1, 2, 3), "sum"),
]


@pytest.mark.parametrize("dynamic", [True, None], ids=["dynamic=True", "batch varies"])
@pytest.mark.parametrize("x_shape,reduce_axis,reduction", REDUCTION_FORMS, ids=str)
def test_fullgraph_compile_with_changing_shapes(rng, x_shape, reduce_axis, reduction, dynamic):
    """Forward and all three gradients under torch.compile(fullgraph=True),
    as the batch size changes between calls (a last partial batch), equal to
    eager."""
    torch._dynamo.reset()

    def forward(x, kernel, bias):
        return storch.spatial_dense(x, kernel, bias, activation="gelu", reduce_axis=reduce_axis, reduction=reduction)

    def step(forward, args):  # the backward of a compiled forward is compiled too (AOTAutograd)
        y = forward(*args)
        return (y,) + torch.autograd.grad((y * y).sum(), args)

    compiled = torch.compile(forward, fullgraph=True, dynamic=dynamic)
    for batch in (x_shape[0], x_shape[0] + 2, 1, x_shape[0] + 5):
        args = [t.requires_grad_() for t in operands(rng, (batch, *x_shape[1:]), x_shape[1:])]
        for got, want in zip(step(compiled, args), step(forward, args)):
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_the_loader_refuses_a_build_for_another_pytorch(monkeypatch):
    class OtherBuild:
        TORCH_VERSION = "1.0.0"
        SOURCE_DIR = "/nowhere"

    monkeypatch.setattr(_loader, "build_info", lambda: OtherBuild)
    with pytest.raises(ImportError, match=r"built for PyTorch 1\.0\.0, but PyTorch .* is installed.*Rebuild"):
        _loader.load()


def test_the_loader_refuses_a_build_without_the_operators(monkeypatch):
    class NoTorch:
        TORCH_VERSION = None
        SOURCE_DIR = "/nowhere"

    monkeypatch.setattr(_loader, "build_info", lambda: NoTorch)
    with pytest.raises(ImportError, match="built without its PyTorch operator library.*Rebuild"):
        _loader.load()


def test_the_library_stamp_names_this_pytorch():
    stamp = _loader.BUILD_STAMP.search(_loader.LIBRARY.read_bytes())
    assert stamp is not None and stamp[1].decode() == torch.__version__


def test_cuda_tensors_without_the_cuda_operators_are_refused_naming_the_rebuild(monkeypatch):
    monkeypatch.setattr(storch.ops, "HAS_CUDA_OPERATORS", False)

    class CudaTensor:  # what the check reads of a CUDA tensor, on a machine that may have none
        dtype, device, shape = torch.float32, torch.device("cuda", 0), (2, 3)

        def dim(self):
            return 2

    with pytest.raises(NotImplementedError, match="without its CUDA operators.*rebuild"):
        storch.ops._check_operands(CudaTensor(), None, None)


def _threads_of_this_process():
    return int(re.search(r"^Threads:\s+(\d+)", Path("/proc/self/status").read_text(), re.M)[1])


@pytest.mark.sanitized
def test_no_thread_is_started_per_call():
    """_core's host calls run on one pool for the process, the operators on
    PyTorch's: after the first calls, more calls start no threads."""
    x = np.ones((64, 256, 256), np.float32)
    kernel = np.ones((256, 256), np.float32)
    for _ in range(3):
        _core.forward(x, kernel, None, "relu", [], "none", 0, threads=2)
        storch.spatial_dense(torch.from_numpy(x), torch.from_numpy(kernel), activation="relu")
    before = _threads_of_this_process()
    for _ in range(20):
        _core.forward(x, kernel, None, "relu", [], "none", 0, threads=2)
        storch.spatial_dense(torch.from_numpy(x), torch.from_numpy(kernel), activation="relu")
    assert _threads_of_this_process() == before


@pytest.mark.sanitized
def test_the_operators_use_pytorchs_thread_count(rng):
    """Results are bitwise the same whatever the intra-op thread count."""
    x, kernel, bias = operands(rng, (256, 64, 64), (64, 64), torch.float32)
    threads = torch.get_num_threads()
    try:
        results = []
        for count in (1, max(2, threads)):
            torch.set_num_threads(count)
            results.append(OPS.spatial_dense_grad(x, x, kernel, bias, "gelu", [], "none", True, 0, 2, 3))
    finally:
        torch.set_num_threads(threads)
    for one, many in zip(*results):
        assert torch.equal(one, many)


def test_the_loops_reach_pytorchs_openmp_pool():
    """Where PyTorch's intra-op pool is OpenMP, at::parallel_for's parallel
    region is compiled into the operator library: built without -fopenmp it
    runs on one thread (the values are the same, only the time doubles)."""
    if "OpenMP" not in torch.__config__.parallel_info().split("ATen parallel backend:")[-1].split("\n")[0]:
        pytest.skip("this PyTorch's intra-op pool is not OpenMP")
    assert b"GOMP_parallel" in _loader.LIBRARY.read_bytes()
