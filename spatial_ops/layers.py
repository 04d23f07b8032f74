"""SpatialDense as a Keras 3 layer (the logic is in _layer_logic.py)."""

import keras

from ._layer_logic import SpatialDenseLogic


def _front_end():
    """The front-end for Keras' backend: TensorFlow's, JAX's or PyTorch's."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        from . import tensorflow

        return tensorflow
    if backend == "jax":
        from . import jax

        return jax
    if backend == "torch":
        from . import torch

        return torch
    raise NotImplementedError(
        f"spatial_ops' fused layers run on Keras' TensorFlow, JAX and PyTorch backends, but the Keras "
        f"backend in use is {backend!r}. Set KERAS_BACKEND=tensorflow, jax or torch before Keras is imported, or "
        "build the layer with fused=False for the same math as plain keras.ops on any backend."
    )


@keras.saving.register_keras_serializable(package="spatial_ops")
class SpatialDense(SpatialDenseLogic, keras.layers.Layer):
    __doc__ = SpatialDenseLogic.__doc__
    _keras = keras
    _front_end = staticmethod(_front_end)
