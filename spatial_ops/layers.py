"""SpatialDense as a Keras 3 layer (the logic is in _layer_logic.py)."""

import keras

from ._layer_logic import SpatialDenseLogic


def _front_end():
    """The front-end for Keras' backend: TensorFlow's, the only one so far."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise NotImplementedError(
            f"spatial_ops' layers run on Keras' TensorFlow backend only, but the Keras backend in "
            f"use is {backend!r}. Set KERAS_BACKEND=tensorflow before Keras is imported "
            "(spatial_ops has no JAX or PyTorch front-end yet), or build the layer with fused=False "
            "for the same math as plain keras.ops on any backend."
        )
    from . import tensorflow

    return tensorflow


@keras.saving.register_keras_serializable(package="spatial_ops")
class SpatialDense(SpatialDenseLogic, keras.layers.Layer):
    __doc__ = SpatialDenseLogic.__doc__
    _keras = keras
    _front_end = staticmethod(_front_end)
