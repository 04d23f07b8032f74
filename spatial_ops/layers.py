"""SpatialDense as a Keras 3 layer (the logic is in _layer_logic.py)."""

import keras

from ._layer_logic import SpatialDenseLogic


@keras.saving.register_keras_serializable(package="spatial_ops")
class SpatialDense(SpatialDenseLogic, keras.layers.Layer):
    __doc__ = SpatialDenseLogic.__doc__
    _keras = keras
