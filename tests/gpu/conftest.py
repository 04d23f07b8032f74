"""Fixtures of the GPU tests. They import no TensorFlow: the GPU machines they
run on have PyTorch (and maybe CuPy) but no TensorFlow, and spatial_ops is
built there without it (scripts/gpu/run_on_gpu.sh). Where there is no GPU,
or no CUDA build, the tests that need one skip, saying why."""

import importlib

import pytest


@pytest.fixture(scope="session")
def core():
    """The installed binding: a missing one fails, never skips."""
    return importlib.import_module("spatial_ops._core")


@pytest.fixture(scope="session")
def cuda_core(core):
    """_core built with CUDA (no GPU needed)."""
    if not core.built_with_cuda:
        pytest.skip("spatial_ops._core was built without CUDA (SPATIAL_OPS_CUDA=OFF or no nvcc)")
    return core


@pytest.fixture(scope="session")
def torch_cuda(cuda_core):
    """PyTorch on a CUDA device, and _core built with CUDA."""
    torch = pytest.importorskip("torch", reason="the GPU tests use PyTorch tensors as device arrays")
    if not torch.cuda.is_available() or cuda_core.cuda_device_count() == 0:
        pytest.skip("no CUDA device")
    return torch
