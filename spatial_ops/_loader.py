"""Finds and loads the compiled op library, or says exactly why it cannot."""

from pathlib import Path

import tensorflow as tf

_LIBRARY = Path(__file__).with_name("_spatial_ops_tf.so")
REBUILD = "pip install --no-deps --force-reinstall <spatial_ops source checkout>"


def load_op_library():
    try:
        from . import _build_info
    except ImportError:
        raise ImportError(
            "spatial_ops is not built: its compiled library is missing (a source checkout "
            f"that was not installed, or a failed build). Build it with: {REBUILD}"
        ) from None
    if tf.__version__ != _build_info.TF_VERSION:
        raise ImportError(
            f"spatial_ops was built for TensorFlow {_build_info.TF_VERSION}, but TensorFlow "
            f"{tf.__version__} is installed. Rebuild it against this TensorFlow: {REBUILD}"
        )
    if not _LIBRARY.exists():
        raise ImportError(f"spatial_ops: {_LIBRARY} is missing. Rebuild it: {REBUILD}")
    try:
        return tf.load_op_library(str(_LIBRARY))
    except (tf.errors.NotFoundError, OSError) as error:
        raise ImportError(
            f"spatial_ops: loading {_LIBRARY} failed ({error}). It is probably corrupt or "
            f"built for another TensorFlow; rebuild it: {REBUILD}"
        ) from None
