"""What SpatialDense does, written once for both Keras flavours: Keras 3
(spatial_ops.layers) and tf_keras (spatial_ops.tensorflow.tf_keras_layers).
A flavour mixes this class into its own Layer base, names its Keras module
in _keras, whose initializers, regularizers and constraints it uses, and
gives in _front_end the framework front-end that runs the math
(spatial_ops.tensorflow, spatial_ops.jax or spatial_ops.torch, by Keras'
backend). Nothing here imports a framework.

Activations always resolve through Keras 3 (spatial_ops.activations): they
select rows of the C++ activation table, whichever Keras builds the model.
"""

import keras

from . import _shapes, activations, composite, exporting


class SpatialDenseLogic:
    """y = activation(x * kernel + bias), optionally summed or averaged over
    spatial axes, with a weight and a bias per spatial location.

    Weights have the input's spatial shape input_shape[1:], or weight_shape
    when given (any shape that broadcasts to it, e.g. (H, W, 1) to share one
    weight over channels).

    fused: "auto" runs the fused op. Under XLA (jit_compile=True) the op
    compiles as a custom call of the same kernels where the front-end can
    lower it (runs_fused_in_xla: the CPU, and GPUs in a build with the CUDA
    kernels against the CUDA TensorFlow); elsewhere it gets the
    same math as TensorFlow composites (spatial_ops.reference) for XLA to
    fuse. False always runs the math as plain keras.ops
    (spatial_ops.composite), on any Keras backend; True always runs the
    fused op and refuses XLA where it cannot be lowered. Keras 3's
    model.compile(jit_compile="auto" or True) asks every layer's
    supports_jit: where the op cannot be lowered the layer says no unless
    fused=False, so Keras compiles the model without XLA and the fused
    kernels run (with an explicit True, Keras warns that it proceeds
    without XLA).

    Inside spatial_ops.portable() (and spatial_ops.export) the layer runs
    and traces as the keras.ops composite whatever fused says, so that an
    exported model runs where spatial_ops is not installed.
    """

    _keras = None  # the flavour's Keras module
    # The flavour's staticmethod that returns the front-end module for the
    # framework in use (its spatial_dense), or raises NotImplementedError
    # naming the fix. A front-end that XLA cannot always compile the op in
    # (TensorFlow's) also has in_xla_context and runs_fused_in_xla; the
    # others run it fused everywhere.
    _front_end = None
    _jit_allowed = True  # supports_jit's setting; Keras' Layer sets it too

    def __init__(
        self,
        activation=None,
        use_bias=True,
        reduce_axis=None,
        reduction="sum",
        kernel_initializer="ones",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        weight_shape=None,
        fused="auto",
        **kwargs,
    ):
        if fused is not False and not exporting.tracing_portable():
            self._front_end()  # refuse a framework without a front-end now, not at the first call
        flavour = self._keras
        super().__init__(activity_regularizer=flavour.regularizers.get(activity_regularizer), **kwargs)
        _shapes.check_reduction(reduction)
        if not (isinstance(fused, bool) or fused == "auto"):
            raise ValueError(f'fused must be "auto", True or False, got {fused!r}')
        activations.resolve(activation)  # refuse a bad activation now
        self.activation = activations.keras_activations.get(activation)
        self.use_bias = use_bias
        self.reduce_axis = tuple(reduce_axis) if isinstance(reduce_axis, (list, tuple)) else reduce_axis
        self.reduction = reduction
        self.kernel_initializer = flavour.initializers.get(kernel_initializer)
        self.bias_initializer = flavour.initializers.get(bias_initializer)
        self.kernel_regularizer = flavour.regularizers.get(kernel_regularizer)
        self.bias_regularizer = flavour.regularizers.get(bias_regularizer)
        self.kernel_constraint = flavour.constraints.get(kernel_constraint)
        self.bias_constraint = flavour.constraints.get(bias_constraint)
        self.weight_shape = tuple(weight_shape) if weight_shape is not None else None
        self.fused = fused
        self.supports_masking = reduce_axis is None  # elementwise: a mask passes through

    @property
    def supports_jit(self):
        """Whether Keras may compile this layer with XLA: what was set (Keras'
        Layer sets True; set False to keep a model out of XLA) and, unless
        fused=False, whether the front-end compiles the op into XLA programs
        (the build and the device decide: runs_fused_in_xla)."""
        if not self._jit_allowed or self.fused is False:
            return self._jit_allowed
        front_end = self._front_end()
        return not hasattr(front_end, "runs_fused_in_xla") or front_end.runs_fused_in_xla()

    @supports_jit.setter
    def supports_jit(self, value):
        self._jit_allowed = bool(value)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        spatial = input_shape[1:]
        if len(input_shape) < 2 or any(d is None for d in spatial):
            raise ValueError(
                f"SpatialDense needs an input (batch, d1, ..., dk) with known spatial "
                f"dimensions, got input shape {input_shape}"
            )
        _shapes.normalize_reduce_axes(self.reduce_axis, len(input_shape))
        shape = self.weight_shape if self.weight_shape is not None else spatial
        _shapes.check_broadcastable(shape, spatial, "weight_shape")
        self.kernel = self.add_weight(
            name="kernel",
            shape=shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.bias = (
            self.add_weight(
                name="bias",
                shape=shape,
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
            )
            if self.use_bias
            else None
        )

    def call(self, inputs):
        if self.fused is False or exporting.tracing_portable():
            spatial_dense = composite.spatial_dense
        else:
            front_end = self._front_end()
            if (
                self.fused is True
                and hasattr(front_end, "in_xla_context")
                and front_end.in_xla_context()
                and not front_end.runs_fused_in_xla()
            ):
                raise ValueError(
                    f"SpatialDense {self.name!r} has fused=True, but it is being compiled with XLA "
                    "(jit_compile=True), which cannot compile the fused custom op. Use "
                    'fused="auto" to run the composite math under XLA, or compile without XLA.'
                )
            spatial_dense = front_end.spatial_dense
        return spatial_dense(
            inputs,
            self.kernel,
            self.bias,
            activation=self.activation,
            reduce_axis=self.reduce_axis,
            reduction=self.reduction,
        )

    def compute_mask(self, inputs, mask=None):
        return mask if self.reduce_axis is None else None

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        axes = _shapes.normalize_reduce_axes(self.reduce_axis, len(input_shape))
        return tuple(d for i, d in enumerate(input_shape) if i not in axes)

    def get_config(self):
        flavour = self._keras
        return {
            **super().get_config(),
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "reduce_axis": self.reduce_axis,
            "reduction": self.reduction,
            "kernel_initializer": flavour.initializers.serialize(self.kernel_initializer),
            "bias_initializer": flavour.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": flavour.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": flavour.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": flavour.constraints.serialize(self.kernel_constraint),
            "bias_constraint": flavour.constraints.serialize(self.bias_constraint),
            "weight_shape": self.weight_shape,
            "fused": self.fused,
        }
