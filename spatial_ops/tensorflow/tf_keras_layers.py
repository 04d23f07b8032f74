"""SpatialDense for tf_keras, the Keras 2 that TensorFlow's tf.keras becomes
with TF_USE_LEGACY_KERAS=1 (the logic is in spatial_ops/_layer_logic.py).
Importing this module needs the tf_keras package."""

try:
    import tf_keras
except ImportError:
    raise ImportError(
        "spatial_ops.tensorflow.tf_keras_layers needs tf_keras (the legacy Keras 2 of "
        "TF_USE_LEGACY_KERAS=1): pip install --no-deps tf_keras==<your TensorFlow version>"
    ) from None

from .. import tensorflow as _tensorflow_front_end
from .._layer_logic import SpatialDenseLogic


@tf_keras.saving.register_keras_serializable(package="spatial_ops")
class SpatialDense(SpatialDenseLogic, tf_keras.layers.Layer):
    __doc__ = SpatialDenseLogic.__doc__
    _keras = tf_keras
    _front_end = staticmethod(lambda: _tensorflow_front_end)
