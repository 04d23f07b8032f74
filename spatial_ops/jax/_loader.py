"""Loads the JAX handler library (csrc/xla_ffi compiled against JAX's XLA
FFI headers) and registers its handlers with JAX, once, on first use; or
says exactly why it cannot."""

import ctypes
import functools
from pathlib import Path

import jax

from .._build import build_info, rebuild_command

# The build puts the library at the package's top level, beside _core.
_LIBRARY = Path(__file__).parent.parent / "_spatial_ops_jax.so"

# The custom-call targets (csrc/xla_ffi/spatial_dense_ffi.h) and the handler
# symbols registered under them, per XLA platform; a library built without
# the CUDA kernels has no CUDA symbols.
FORWARD_TARGET = "spatial_ops_spatial_dense"
BACKWARD_TARGET = "spatial_ops_spatial_dense_grad"
_HANDLERS = {
    "cpu": {FORWARD_TARGET: "SpatialOpsSpatialDenseHost", BACKWARD_TARGET: "SpatialOpsSpatialDenseGradHost"},
    "CUDA": {FORWARD_TARGET: "SpatialOpsSpatialDenseCuda", BACKWARD_TARGET: "SpatialOpsSpatialDenseGradCuda"},
}
# jax.default_backend() names of each XLA platform.
_BACKENDS = {"cpu": ("cpu",), "CUDA": ("gpu", "cuda")}


@functools.lru_cache(maxsize=None)
def register_handlers():
    """Registers the handlers for every platform the library has, and returns
    the JAX backends they serve; raises an ImportError naming the rebuild
    command when the library is missing."""
    if not _LIBRARY.exists():
        built = build_info() is not None
        raise ImportError(
            f"spatial_ops' JAX front-end needs {_LIBRARY.name}, which this build of spatial_ops "
            f"does not have ({'JAX was not installed when it was built' if built else 'it is not built'}). "
            f"Rebuild it with JAX installed: {rebuild_command()}"
        )
    try:
        library = ctypes.CDLL(str(_LIBRARY))
    except OSError as error:
        raise ImportError(
            f"spatial_ops: loading {_LIBRARY} failed ({error}); rebuild it: {rebuild_command()}"
        ) from None
    backends = []
    for platform, handlers in _HANDLERS.items():
        if not all(hasattr(library, symbol) for symbol in handlers.values()):
            continue
        for target, symbol in handlers.items():
            jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(getattr(library, symbol)), platform=platform)
        backends += _BACKENDS[platform]
    return tuple(backends)
