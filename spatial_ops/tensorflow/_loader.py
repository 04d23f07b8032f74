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
import warnings
from pathlib import Path

from .._build import build_info, rebuild_command

# The build puts the library at the package's top level, beside _core.
_LIBRARY = Path(__file__).parent.parent / "_spatial_ops_tf.so"
# The text csrc/tf/build_stamp.cc compiles into the library: format_build_stamp
# writes it, BUILD_STAMP reads it back as (TensorFlow version, ABI flag, then
# "1" or "0" for each of FEATURES).
FEATURES = (
    "xla_lowering",  # the ops lower to XLA custom calls (csrc/tf/xla_lowering.cc)
    "gpu_kernels",  # the CUDA OpKernels
    "xla_gpu",  # XLA's GPU compiler lowers the ops too (the CUDA handlers)
)
BUILD_STAMP = re.compile(
    rb"spatial_ops-build-stamp:tensorflow=([^;\0]+);cxx11_abi=([01]);"
    + b"".join(b"(?:" + name.encode() + rb"=([01]);)?" for name in FEATURES)
)


def format_build_stamp(version, cxx11_abi, features=()):
    """The stamp of a library built for this TensorFlow version and C++ ABI
    flag, with the FEATURES named in features."""
    flags = "".join(f"{name}={int(name in features)};" for name in FEATURES)
    return f"spatial_ops-build-stamp:tensorflow={version};cxx11_abi={int(cxx11_abi)};{flags}".encode()


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


def stamped_features(match):
    """The set of FEATURES a BUILD_STAMP match says the library has."""
    return {name for name, flag in zip(FEATURES, match.groups()[2:]) if flag == b"1"}


def _read_stamp(library):
    """(TensorFlow version, C++ ABI flag) the library was compiled for, and
    the set of FEATURES it has; None without a stamp."""
    match = BUILD_STAMP.search(library.read_bytes())
    return None if match is None else ((match[1].decode(), int(match[2])), stamped_features(match))


def _warn_if_a_gpu_goes_unused(features, rebuild):
    """TensorFlow that sees a GPU places the ops there; a library without
    GPU kernels leaves them to the CPU, with copies to and from the GPU."""
    if "gpu_kernels" in features or not tf.config.list_physical_devices("GPU"):
        return
    warnings.warn(
        "spatial_ops: TensorFlow sees a GPU, but this op library has no GPU kernels (built without "
        "nvcc, or against a TensorFlow that is not a CUDA build), so its ops run on the CPU. Install "
        "the CUDA TensorFlow (tensorflow, not tensorflow-cpu) and the CUDA toolkit of its major "
        f"version with nvcc on PATH, then rebuild with SPATIAL_OPS_CUDA=ON: {rebuild}",
        stacklevel=4,
    )


def load_op_library():
    """The op library's module of op functions, after every check above, and
    the set of FEATURES the library has."""
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
    stamped_for, features = stamp
    if stamped_for != running:
        raise _built_for_other(f"{_describe(*stamped_for)} (the stamp compiled into {_LIBRARY.name})", rebuild)
    try:
        module = tf.load_op_library(str(_LIBRARY))
    except (tf.errors.NotFoundError, OSError) as error:
        raise ImportError(
            f"spatial_ops: loading {_LIBRARY} failed ({error}). It is probably corrupt or "
            f"built for another TensorFlow; rebuild it: {rebuild}"
        ) from None
    _warn_if_a_gpu_goes_unused(features, rebuild)
    return module, features


class LazyOpLibrary:
    """The op library, loaded (with load_op_library's checks) the first time
    one of its ops is looked up here. Each op found is kept as an attribute
    of this object, so later lookups do not come back through __getattr__."""

    def __init__(self):
        self._module = None
        self._features = set()
        self._lowering_registered = None

    @property
    def loaded(self):
        return self._module is not None

    def has(self, feature):
        """Whether the library has one of FEATURES (its stamp says)."""
        self.load()
        return feature in self._features

    def lowering_registered(self):
        """Whether XLA takes the lowering in this process: not when it had
        compiled something before the library loaded (csrc/tf/xla_lowering.cc)."""
        if self._lowering_registered is None:
            self._lowering_registered = ctypes.CDLL(str(_LIBRARY)).spatial_ops_xla_lowering_registered
        return bool(self._lowering_registered())

    def load(self):
        """Loads the library if it is not loaded yet and returns its module."""
        if self._module is None:
            self._module, self._features = load_op_library()
        return self._module

    def __getattr__(self, name):
        if name.startswith("__"):  # copy, pickle and the like probe for these
            raise AttributeError(name)
        op = getattr(self.load(), name)
        setattr(self, name, op)
        return op


LIBRARY = LazyOpLibrary()
