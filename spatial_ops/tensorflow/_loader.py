"""Finds and loads the compiled op library, or says exactly why it cannot.

An op library is valid for exactly the TensorFlow release and C++ ABI it was
compiled against; under any other, loading it fails with an undefined symbol
or worse. So both are checked before it is loaded: against _build_info.py
(written by setup.py) and against the stamp compiled into the library itself
(csrc/tf/build_stamp.cc), which also catches a library copied from elsewhere.

The library is loaded on first use, as TensorFlow Addons' LazySO does it:
LIBRARY stands for it and loads it when an op is first looked up on it (or
by LIBRARY.load()), so importing this front-end costs no load.
"""

import ctypes
import re
import sys
from pathlib import Path

from .._build import build_info, rebuild_command

# The build puts the library at the package's top level, beside _core.
_LIBRARY = Path(__file__).parent.parent / "_spatial_ops_tf.so"
# The text csrc/tf/build_stamp.cc compiles into the library: format_build_stamp
# writes it, BUILD_STAMP reads it back as (TensorFlow version, ABI flag, and
# whether the library lowers the ops to XLA custom calls, "1" or "0").
BUILD_STAMP = re.compile(rb"spatial_ops-build-stamp:tensorflow=([^;\0]+);cxx11_abi=([01]);(?:xla_lowering=([01]);)?")


def format_build_stamp(version, cxx11_abi):
    """The stamp of a library built for this TensorFlow version and C++ ABI flag."""
    return f"spatial_ops-build-stamp:tensorflow={version};cxx11_abi={int(cxx11_abi)};".encode()


def _import_tensorflow():
    """tensorflow, or an ImportError that says how to get it and the op library."""
    try:
        import tensorflow
    except ModuleNotFoundError as error:
        if error.name != "tensorflow":
            raise
        rebuild = rebuild_command()
        raise ImportError(
            "spatial_ops.spatial_dense and spatial_ops.reference run on TensorFlow, which is not "
            f"installed. Install it ({sys.executable} -m pip install tensorflow-cpu, or tensorflow "
            f"for NVIDIA GPUs), then rebuild spatial_ops so that it builds its op library: {rebuild}"
        ) from None
    return tensorflow


tf = _import_tensorflow()


def _describe(version, cxx11_abi):
    return f"TensorFlow {version} (C++ ABI _GLIBCXX_USE_CXX11_ABI={int(cxx11_abi)})"


def _built_for_other(built_for, rebuild):
    return ImportError(
        f"spatial_ops was built for {built_for}, but {_describe(tf.__version__, tf.sysconfig.CXX11_ABI_FLAG)} "
        f"is installed. Rebuild it against this TensorFlow: {rebuild}"
    )


def _read_stamp(library):
    """(TensorFlow version, C++ ABI flag) the library was compiled for, and
    whether it lowers the ops to XLA; None without a stamp."""
    match = BUILD_STAMP.search(library.read_bytes())
    return None if match is None else ((match[1].decode(), int(match[2])), match[3] == b"1")


def load_op_library():
    """The op library's module of op functions, after every check above, and
    whether the library lowers the ops to XLA custom calls."""
    info = build_info()
    if info is None:
        raise ImportError(
            "spatial_ops is not built: its compiled library is missing (a source checkout "
            f"that was not installed, or a failed build). Build it with: {rebuild_command()}"
        )
    rebuild = rebuild_command()
    if info.TF_VERSION is None:
        raise ImportError(
            "spatial_ops was built without its TensorFlow op library (TensorFlow was not installed "
            f"then), but {_describe(tf.__version__, tf.sysconfig.CXX11_ABI_FLAG)} is installed now. "
            f"Rebuild it against this TensorFlow: {rebuild}"
        )
    running = (tf.__version__, int(tf.sysconfig.CXX11_ABI_FLAG))
    built = (info.TF_VERSION, int(info.CXX11_ABI))
    if built != running:
        raise _built_for_other(_describe(*built), rebuild)
    if not _LIBRARY.exists():
        raise ImportError(f"spatial_ops: {_LIBRARY} is missing. Rebuild it: {rebuild}")
    stamp = _read_stamp(_LIBRARY)
    if stamp is None:
        raise ImportError(
            f"spatial_ops: {_LIBRARY} carries no build stamp: it is corrupt or not a spatial_ops "
            f"op library. Rebuild it: {rebuild}"
        )
    stamped_for, lowers_to_xla = stamp
    if stamped_for != running:
        raise _built_for_other(f"{_describe(*stamped_for)} (the stamp compiled into {_LIBRARY.name})", rebuild)
    try:
        return tf.load_op_library(str(_LIBRARY)), lowers_to_xla
    except (tf.errors.NotFoundError, OSError) as error:
        raise ImportError(
            f"spatial_ops: loading {_LIBRARY} failed ({error}). It is probably corrupt or "
            f"built for another TensorFlow; rebuild it: {rebuild}"
        ) from None


class LazyOpLibrary:
    """The op library, loaded (with load_op_library's checks) the first time
    one of its ops is looked up here. Each op found is kept as an attribute
    of this object, so later lookups do not come back through __getattr__."""

    def __init__(self):
        self._module = None
        self._lowers_to_xla = False
        self._lowering_registered = None

    @property
    def loaded(self):
        return self._module is not None

    @property
    def lowers_to_xla(self):
        """Whether the library lowers its ops to XLA custom calls (its stamp says)."""
        self.load()
        return self._lowers_to_xla

    def lowering_registered(self):
        """Whether XLA takes the lowering in this process: not when it had
        compiled something before the library loaded (csrc/tf/xla_lowering.cc)."""
        if self._lowering_registered is None:
            self._lowering_registered = ctypes.CDLL(str(_LIBRARY)).spatial_ops_xla_lowering_registered
        return bool(self._lowering_registered())

    def load(self):
        """Loads the library if it is not loaded yet and returns its module."""
        if self._module is None:
            self._module, self._lowers_to_xla = load_op_library()
        return self._module

    def __getattr__(self, name):
        if name.startswith("__"):  # copy, pickle and the like probe for these
            raise AttributeError(name)
        op = getattr(self.load(), name)
        setattr(self, name, op)
        return op


LIBRARY = LazyOpLibrary()
