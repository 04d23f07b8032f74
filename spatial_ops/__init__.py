"""spatial_ops: a fused per-location weight, bias and activation for
TensorFlow/Keras, y = reduce(activation(x * kernel + bias)), in one pass
forward and one pass backward on the CPU (C++) and NVIDIA GPUs (CUDA)."""

import os

from . import reference
from .activations import FUSED_ACTIVATION_NAMES, Activation
from .compat import Custom2DDense, Custom2DDenseActivation, Custom2DDenseSummation
from .ops import spatial_dense

# SpatialDense is built on the Keras that tf.keras is: tf_keras when
# TF_USE_LEGACY_KERAS is set (TensorFlow reads it the same way), else Keras 3.
# Both stay reachable: spatial_ops.layers and spatial_ops.tf_keras_layers.
if os.environ.get("TF_USE_LEGACY_KERAS") in ("true", "True", "1"):
    from .tf_keras_layers import SpatialDense
else:
    from .layers import SpatialDense

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "Custom2DDense",
    "Custom2DDenseActivation",
    "Custom2DDenseSummation",
    "FUSED_ACTIVATION_NAMES",
    "SpatialDense",
    "reference",
    "spatial_dense",
]
