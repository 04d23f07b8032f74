"""The JAX front-end: the fused op on JAX arrays (ops.py), as XLA FFI custom
calls of the kernels, registered with JAX on first use (_loader.py).
SpatialDense uses it when JAX is Keras' backend.

Importing it imports JAX but loads nothing; the first op call registers the
handlers, or raises an ImportError naming the rebuild command."""

from ._loader import register_handlers
from .ops import spatial_dense


def in_xla_context():
    """Always False: JAX runs the fused kernels under jit, so the layer has
    nothing to refuse there."""
    return False


def runs_fused_in_xla():
    return True


def keras_is_resolving_auto_jit():
    return False


__all__ = ["in_xla_context", "keras_is_resolving_auto_jit", "register_handlers", "runs_fused_in_xla", "spatial_dense"]
