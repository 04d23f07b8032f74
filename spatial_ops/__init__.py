"""spatial_ops: a fused per-location weight, bias and activation for Keras,
y = reduce(activation(x * kernel + bias)), in one pass forward and one pass
backward on the CPU (C++) and NVIDIA GPUs (CUDA).

The package itself is backend-neutral; each framework's front-end is a
subpackage, imported only when that framework is in use:
spatial_ops.tensorflow is imported here, and its op library loaded, when
TensorFlow is Keras' backend (or tf_keras builds the models,
TF_USE_LEGACY_KERAS); spatial_ops.jax or spatial_ops.torch when JAX or
PyTorch is Keras' backend and the first op call needs it. spatial_dense is the op of Keras' backend's
front-end (on a backend without one, TensorFlow's); reference is plain
TensorFlow, imported on first use."""

import importlib
import os

import keras

from .activations import FUSED_ACTIVATION_NAMES, Activation
from .exporting import export, portable
from .seed_layers import Custom2DDense, Custom2DDenseActivation, Custom2DDenseSummation

# SpatialDense is built on the Keras that tf.keras is: tf_keras when
# TF_USE_LEGACY_KERAS is set (TensorFlow reads it the same way), else Keras 3.
# Both stay reachable: spatial_ops.layers and spatial_ops.tensorflow.tf_keras_layers.
_LEGACY_KERAS = os.environ.get("TF_USE_LEGACY_KERAS") in ("true", "True", "1")
if _LEGACY_KERAS:
    from .tensorflow.tf_keras_layers import SpatialDense
else:
    from .layers import SpatialDense

if _LEGACY_KERAS or keras.backend.backend() == "tensorflow":
    from . import tensorflow as _tensorflow_front_end

    # Registers the ops (a SavedModel that uses them loads after `import
    # spatial_ops`) and reports a missing or mismatched build now.
    _tensorflow_front_end.load_op_library()
    from . import reference

    spatial_dense = _tensorflow_front_end.spatial_dense


def __getattr__(name):
    """spatial_dense and reference on another Keras backend, imported on first
    use: JAX's op on JAX, PyTorch's on PyTorch, else TensorFlow's (raising the loader's ImportError
    when TensorFlow or the op library is missing)."""
    if name == "reference":
        return importlib.import_module(".reference", __name__)
    if name != "spatial_dense":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if keras.backend.backend() == "jax":
        from .jax import spatial_dense
    elif keras.backend.backend() == "torch":
        from .torch import spatial_dense
    else:
        from . import tensorflow as front_end

        front_end.load_op_library()
        spatial_dense = front_end.spatial_dense
    globals()[name] = spatial_dense
    return spatial_dense


__version__ = "0.1.0"  # the one place: pyproject.toml reads it

__all__ = [
    "Activation",
    "Custom2DDense",
    "Custom2DDenseActivation",
    "Custom2DDenseSummation",
    "FUSED_ACTIVATION_NAMES",
    "SpatialDense",
    "export",
    "portable",
    "reference",
    "spatial_dense",
]
