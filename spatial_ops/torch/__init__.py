"""The PyTorch front-end: the fused op as two PyTorch operators
(spatial_ops::spatial_dense and its gradient), implemented in C++ over the
kernels in the operator library _spatial_ops_torch (csrc/torch/), with
autograd and the Python checks in ops.py. SpatialDense uses it when PyTorch
is Keras' backend. Importing it imports PyTorch and loads the library,
which registers the operators."""

from .ops import spatial_dense

__all__ = ["spatial_dense"]
