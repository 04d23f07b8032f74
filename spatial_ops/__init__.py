"""spatial_ops: a fused per-location weight, bias and activation for
TensorFlow/Keras, y = reduce(activation(x * kernel + bias)), in one pass
forward and one pass backward on the CPU (C++) and NVIDIA GPUs (CUDA)."""

from . import reference
from .activations import FUSED_ACTIVATION_NAMES, Activation
from .compat import Custom2DDense, Custom2DDenseActivation, Custom2DDenseSummation
from .layers import SpatialDense
from .ops import spatial_dense

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
