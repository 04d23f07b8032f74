"""The PyTorch front-end: the fused op as two PyTorch operators
(spatial_ops::spatial_dense and its gradient, ops.py) over the kernels of
spatial_ops._core. SpatialDense uses it when PyTorch is Keras' backend.
Importing it imports PyTorch and registers the operators."""

from .ops import spatial_dense


def in_xla_context():
    """Always False: the operators run under torch.compile, so the layer has
    nothing to refuse there."""
    return False


def runs_fused_in_xla():
    return True


def keras_is_resolving_auto_jit():
    return False


__all__ = ["in_xla_context", "keras_is_resolving_auto_jit", "runs_fused_in_xla", "spatial_dense"]
