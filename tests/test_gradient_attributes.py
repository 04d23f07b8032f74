"""The fused gradient reads the forward op's attributes from the flat tuple
an eager tape records (spatial_ops/tensorflow/ops.py, _recorded_attrs), a
field TensorFlow does not document: its public get_attr costs a fifth of a
small eager training step. This fails the day TensorFlow stops recording
the tuple, or records it differently, rather than letting the gradient fall
back to the slow path unnoticed."""

import numpy as np
import tensorflow as tf

import spatial_ops
from spatial_ops.tensorflow import ops


def test_an_eager_tape_gradient_takes_the_recorded_attributes(rng, monkeypatch):
    received = []
    attrs = ops._attrs
    monkeypatch.setattr(ops, "_attrs", lambda op: received.append(op) or attrs(op))
    x, kernel, bias = (tf.constant(rng.normal(size=s).astype(np.float32)) for s in ((3, 4, 5), (4, 5), (4, 5)))
    activation = spatial_ops.Activation("elu", alpha=0.3)
    with tf.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        y = spatial_ops.spatial_dense(x, kernel, bias, activation=activation, reduce_axis=-1, reduction="mean")
    tape.gradient(y, [x, kernel, bias])

    assert len(received) == 1
    recorded = ops._recorded_attrs(received[0])
    assert recorded is not None, f"TensorFlow no longer records the attrs tuple on {type(received[0])}"
    assert recorded == {name: ops._decoded(received[0].get_attr(name)) for name in ops._ATTRS}
    assert recorded == dict(
        activation="elu",
        activation_params=[repr(0.3)],
        reduction="mean",
        has_bias=True,
        derivative_order=0,
        reduce_begin=2,
        reduce_end=3,
    )
