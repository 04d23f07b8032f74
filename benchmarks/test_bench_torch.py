"""PyTorch: the fused op (spatial_ops.torch, the C++ operators) against
PyTorch's own composite of the same math (spatial_ops.composite on
keras.ops), each eager and under torch.compile. A forward (under no_grad)
and a training step (the gradients of sum(y * w) for x, kernel and bias) at
a model layer's size and the largest, then the host overhead of one eager
call on a 1x4x4 input. benchmarks/report.py runs it with KERAS_BACKEND=torch."""

import contextlib
import functools

import pytest

torch = pytest.importorskip("torch")
from harness import LARGE, LAYER, measure, size_id  # noqa: E402

import spatial_ops.composite  # noqa: E402
import spatial_ops.torch  # noqa: E402

IMPLEMENTATIONS = {"fused": spatial_ops.torch.spatial_dense, "composite": spatial_ops.composite.spatial_dense}
MODES = {"eager": lambda f: f, "torch.compile": torch.compile}
SIZES = list(dict.fromkeys([LAYER, LARGE]))


@functools.lru_cache(maxsize=1)
def operands(size):
    generator = torch.Generator().manual_seed(0)
    x, kernel, bias, w = (torch.randn(*s, generator=generator) for s in (size, size[1:], size[1:], size))
    return [t.requires_grad_() for t in (x, kernel, bias)], w


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("pass_", ["forward", "training step"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_torch(benchmark, size, activation, pass_, implementation, mode):
    (x, kernel, bias), w = operands(size)
    op = IMPLEMENTATIONS[implementation]
    forward = lambda x, k, b: op(x, k, b, activation=activation)  # noqa: E731
    step = lambda x, k, b: torch.autograd.grad((forward(x, k, b) * w).sum(), (x, k, b))  # noqa: E731
    fn = MODES[mode](forward if pass_ == "forward" else step)
    with torch.no_grad() if pass_ == "forward" else contextlib.nullcontext():
        measure(
            benchmark,
            lambda: fn(x, kernel, bias),
            group=f"torch {size_id(size)} {activation} {pass_}",
            backend="torch",
            peer=f"{implementation}, {mode}",
        )


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
def test_torch_overhead_per_call(benchmark, implementation):
    tiny = [torch.ones(*s) for s in ((1, 4, 4), (4, 4), (4, 4))]
    op = IMPLEMENTATIONS[implementation]
    with torch.no_grad():
        measure(
            benchmark,
            lambda: op(*tiny, activation="relu"),
            group="torch overhead per call 1x4x4",
            count_faults=False,
            backend="torch",
            peer=f"{implementation}, eager",
        )
