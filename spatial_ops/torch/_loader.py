"""Finds and loads the PyTorch operator library, or says exactly why it cannot.

The library (csrc/torch/operators.cc) is valid for exactly the PyTorch release
and C++ ABI it was compiled against. Both are checked before it is loaded:
against _build_info.py (written by setup.py) and against the stamp compiled
into the library itself. There is no fallback: without the library the
operators do not exist, and the error names the rebuild.
"""

import re
from pathlib import Path

import torch

from .._build import build_info, rebuild_command

# The build puts the library at the package's top level, beside _core.
LIBRARY = Path(__file__).parent.parent / "_spatial_ops_torch.so"
# The text operators.cc compiles into the library: (release, ABI flag, CUDA operators).
BUILD_STAMP = re.compile(rb"spatial_ops-build-stamp:torch=([^;\0]+);cxx11_abi=([01]);cuda=([01]);")


def _running():
    return torch.__version__, int(torch.compiled_with_cxx11_abi())


def _describe(version, cxx11_abi):
    return f"PyTorch {version} (C++ ABI _GLIBCXX_USE_CXX11_ABI={int(cxx11_abi)})"


def _refusal(why):
    return ImportError(
        f"spatial_ops.torch: {why}. Rebuild spatial_ops against this PyTorch (installed first): {rebuild_command()}"
    )


def load():
    """Loads the operator library once its build matches the running PyTorch;
    returns whether it has the CUDA operators."""
    info = build_info()
    if info is None:
        raise _refusal("spatial_ops is not built (a source checkout that was not installed, or a failed build)")
    built_for = getattr(info, "TORCH_VERSION", None)
    if built_for is None:
        raise _refusal(
            f"spatial_ops was built without its PyTorch operator library (no PyTorch was installed "
            f"then), but {_describe(*_running())} is installed now"
        )
    if built_for != torch.__version__:
        raise _refusal(f"spatial_ops was built for PyTorch {built_for}, but {_describe(*_running())} is installed")
    if not LIBRARY.exists():
        raise _refusal(f"{LIBRARY} is missing")
    stamp = BUILD_STAMP.search(LIBRARY.read_bytes())
    if stamp is None:
        raise _refusal(f"{LIBRARY} carries no build stamp: it is corrupt or not a spatial_ops library")
    stamped_for = (stamp[1].decode(), int(stamp[2]))
    if stamped_for != _running():
        raise _refusal(
            f"{LIBRARY.name} was compiled for {_describe(*stamped_for)}, but {_describe(*_running())} is installed"
        )
    try:
        torch.ops.load_library(str(LIBRARY))
    except OSError as error:
        raise _refusal(f"loading {LIBRARY} failed ({error})") from None
    return stamp[3] == b"1"
