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

# jax.default_backend() names of each XLA platform.
_BACKENDS = {"cpu": ("cpu",), "CUDA": ("gpu", "cuda")}


class _FfiTarget(ctypes.Structure):
    """One entry of the library's spatial_ops_ffi_targets() (csrc/xla_ffi/jax_targets.cc)."""

    _fields_ = [
        ("op", ctypes.c_char_p),
        ("target", ctypes.c_char_p),
        ("platform", ctypes.c_char_p),
        ("handler", ctypes.c_void_p),
    ]


def _targets_of(library):
    """[(op, target, platform, handler address)] as the library lists them:
    the target names are the C++ handlers' own, and a library built without
    the CUDA kernels lists no CUDA handlers."""
    listing = library.spatial_ops_ffi_targets
    listing.restype = ctypes.POINTER(_FfiTarget)
    entries, i = listing(), 0
    targets = []
    while entries[i].op is not None:
        entry = entries[i]
        targets.append((entry.op.decode(), entry.target.decode(), entry.platform.decode(), entry.handler))
        i += 1
    return targets


@functools.lru_cache(maxsize=None)
def _register():
    """Registers the handlers for every platform the library has, and returns
    ({op: custom-call target}, the JAX backends they serve); raises an ImportError naming the rebuild
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
    targets = _targets_of(library)
    for _, target, platform, handler in targets:
        jax.ffi.register_ffi_target(target, jax.ffi.pycapsule(handler), platform=platform)
    return {op: target for op, target, _, _ in targets}, tuple(
        dict.fromkeys(name for _, _, platform, _ in targets for name in _BACKENDS[platform])
    )


def register_handlers():
    """Registers the handlers (once) and returns the JAX backends they serve;
    raises an ImportError naming the rebuild command when the library is missing."""
    return _register()[1]


def target(op):
    """The custom-call target of "forward" or "backward", registered on first use."""
    return _register()[0][op]
