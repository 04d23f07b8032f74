"""Finds and loads the compiled op library, or says exactly why it cannot.

An op library is valid for exactly the TensorFlow release and C++ ABI it was
compiled against; under any other, loading it fails with an undefined symbol
or worse. So both are checked before it is loaded: against _build_info.py
(written by setup.py) and against the stamp compiled into the library itself
(csrc/tf/build_stamp.cc), which also catches a library copied from elsewhere.
"""

import re
import sys
from pathlib import Path

import tensorflow as tf

_LIBRARY = Path(__file__).with_name("_spatial_ops_tf.so")
# The text csrc/tf/build_stamp.cc compiles into the library.
_STAMP = re.compile(rb"spatial_ops-build-stamp:tensorflow=([^;\0]+);cxx11_abi=([01]);")


def _rebuild_command(source_dir=None):
    """The command that rebuilds spatial_ops for the running TensorFlow."""
    if source_dir and (Path(source_dir) / "setup.py").is_file():
        source = source_dir
    else:
        source = "<spatial_ops source checkout>"
    return f"{sys.executable} -m pip install --no-deps --force-reinstall {source}"


def _describe(version, cxx11_abi):
    return f"TensorFlow {version} (C++ ABI _GLIBCXX_USE_CXX11_ABI={int(cxx11_abi)})"


def _built_for_other(built_for, rebuild):
    return ImportError(
        f"spatial_ops was built for {built_for}, but {_describe(tf.__version__, tf.sysconfig.CXX11_ABI_FLAG)} "
        f"is installed. Rebuild it against this TensorFlow: {rebuild}"
    )


def _read_stamp(library):
    """(TensorFlow version, C++ ABI flag) the library was compiled for, or None."""
    match = _STAMP.search(library.read_bytes())
    return None if match is None else (match[1].decode(), int(match[2]))


def load_op_library():
    try:
        from . import _build_info
    except ImportError:
        raise ImportError(
            "spatial_ops is not built: its compiled library is missing (a source checkout "
            f"that was not installed, or a failed build). Build it with: {_rebuild_command()}"
        ) from None
    rebuild = _rebuild_command(getattr(_build_info, "SOURCE_DIR", None))
    running = (tf.__version__, int(tf.sysconfig.CXX11_ABI_FLAG))
    built = (_build_info.TF_VERSION, int(_build_info.CXX11_ABI))
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
    if stamp != running:
        raise _built_for_other(f"{_describe(*stamp)} (the stamp compiled into {_LIBRARY.name})", rebuild)
    try:
        return tf.load_op_library(str(_LIBRARY))
    except (tf.errors.NotFoundError, OSError) as error:
        raise ImportError(
            f"spatial_ops: loading {_LIBRARY} failed ({error}). It is probably corrupt or "
            f"built for another TensorFlow; rebuild it: {rebuild}"
        ) from None
