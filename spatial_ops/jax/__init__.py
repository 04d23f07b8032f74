"""The JAX front-end: the fused op on JAX arrays (ops.py), as XLA FFI custom
calls of the kernels (CPU, and CUDA where built), registered with JAX on
first use (_loader.py).
SpatialDense uses it when JAX is Keras' backend.

Importing it imports JAX but loads nothing; the first op call registers the
handlers, or raises an ImportError naming the rebuild command."""

from ._loader import register_handlers
from .ops import spatial_dense

__all__ = ["register_handlers", "spatial_dense"]
