"""Drop-in replacements for the three layers of the write-up spatial_ops grew
from: same constructor arguments and defaults (random_normal kernel, zeros
bias, weights of shape (height, width) created at construction), the same
ValueError for input that is not 3-D, and the fused op underneath.

One deliberate difference: Custom2DDenseSummation refuses sum_axis=0 (or
None), which would sum over the batch and mix samples; see
spatial_ops._shapes.normalize_reduce_axes.
"""

import keras

from .layers import SpatialDense


class _SeedCompatible(SpatialDense):
    """Common behaviour of the three compatible classes."""

    def __init__(self, height, width, **kwargs):
        super().__init__(
            kernel_initializer="random_normal", bias_initializer="zeros", weight_shape=(height, width), **kwargs
        )
        self.height = height
        self.width = width
        self.build((None, height, width))

    def build(self, input_shape):
        if self.built:  # built at construction, as the write-up's layers are; Keras may ask again
            return
        super().build(input_shape)

    # The write-up names the weights w and b.
    @property
    def w(self):
        return self.kernel

    @property
    def b(self):
        return self.bias

    def call(self, inputs):
        if len(inputs.shape) != 3:
            raise ValueError(f"Input tensor must be 3D (batch_size, height, width), got shape {inputs.shape}")
        return super().call(inputs)

    def get_config(self):
        return {**keras.layers.Layer.get_config(self), "height": self.height, "width": self.width}


@keras.saving.register_keras_serializable(package="spatial_ops")
class Custom2DDense(_SeedCompatible):
    """x * w + b, weights (height, width)."""


@keras.saving.register_keras_serializable(package="spatial_ops")
class Custom2DDenseActivation(_SeedCompatible):
    """activation(x * w + b); activation as in keras.activations.get."""

    def __init__(self, height, width, activation="relu", **kwargs):
        super().__init__(height, width, activation=activation, **kwargs)

    def get_config(self):
        return {**super().get_config(), "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="spatial_ops")
class Custom2DDenseSummation(_SeedCompatible):
    """sum(x * w + b, axis=sum_axis)."""

    def __init__(self, height, width, sum_axis=-1, **kwargs):
        if sum_axis is None:
            raise ValueError("sum_axis=None would sum over the batch axis too; name spatial axes (1, 2 or -1, -2)")
        super().__init__(height, width, reduce_axis=sum_axis, reduction="sum", **kwargs)
        self.sum_axis = sum_axis

    def get_config(self):
        return {**super().get_config(), "sum_axis": self.sum_axis}
