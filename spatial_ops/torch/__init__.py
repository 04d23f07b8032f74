"""The PyTorch front-end: the fused op as two PyTorch operators
(spatial_ops::spatial_dense and its gradient, ops.py) over the kernels of
spatial_ops._core. SpatialDense uses it when PyTorch is Keras' backend.
Importing it imports PyTorch and registers the operators."""

from .ops import spatial_dense

__all__ = ["spatial_dense"]
