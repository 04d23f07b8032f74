"""Fixtures of the GPU tests. They import no TensorFlow: the GPU machines they
run on have PyTorch (and maybe CuPy) but no TensorFlow, and use the pybind11
module built without it (scripts/gpu/run_on_gpu.sh). Where there is no GPU,
or no CUDA build, the tests that need one skip, saying why."""

import importlib
import importlib.machinery
import importlib.util
import os

import pytest


def _load_core():
    """SPATIAL_OPS_CORE names a built _core*.so (a build without TensorFlow);
    otherwise the installed spatial_ops._core (its package imports Keras)."""
    path = os.environ.get("SPATIAL_OPS_CORE")
    if path:
        loader = importlib.machinery.ExtensionFileLoader("_core", path)
        module = importlib.util.module_from_spec(importlib.util.spec_from_loader("_core", loader))
        loader.exec_module(module)
        return module
    try:
        return importlib.import_module("spatial_ops._core")
    except ImportError as error:
        pytest.skip(f"no spatial_ops._core to test ({error}); set SPATIAL_OPS_CORE to a built one")


@pytest.fixture(scope="session")
def core():
    return _load_core()


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
