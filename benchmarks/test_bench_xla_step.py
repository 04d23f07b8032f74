"""TensorFlow training steps compiled with XLA (tf.function,
jit_compile=True): the fused op as a custom call of its kernels, against the
same math as a composite that XLA fuses itself, and against the fused op in
a tf.function without XLA, at a model layer's size. Where the build does not
lower the op to XLA (spatial_ops.tensorflow.runs_fused_in_xla() is False),
"fused, XLA" runs the composite too; extra_info's lowered says which."""

import functools

import numpy as np
import pytest
import tensorflow as tf
from harness import LAYER, measure, size_id

import spatial_ops


@functools.lru_cache(maxsize=1)
def operands():
    rng = np.random.default_rng(0)
    return tuple(tf.constant(rng.normal(size=s).astype(np.float32)) for s in (LAYER, LAYER[1:], LAYER[1:], LAYER))


def step(implementation, activation):
    w = operands()[3]

    def run(x, kernel, bias):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, bias])
            loss = tf.reduce_sum(implementation(x, kernel, bias, activation=activation) * w)
        return tape.gradient(loss, [x, kernel, bias])

    return run


STEPS = {
    "fused, XLA": (spatial_ops.spatial_dense, dict(jit_compile=True)),
    "composite, XLA": (spatial_ops.reference.spatial_dense, dict(jit_compile=True)),
    "fused, tf.function without XLA": (spatial_ops.spatial_dense, {}),
}


@pytest.mark.parametrize("implementation", list(STEPS))
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_xla_training_step(benchmark, activation, implementation):
    op, options = STEPS[implementation]
    compiled = tf.function(step(op, activation), **options)
    x, kernel, bias, _ = operands()
    measure(
        benchmark,
        lambda: [t.numpy() for t in compiled(x, kernel, bias)],
        group=f"xla step {size_id(LAYER)} {activation}",
        lowered=spatial_ops.tensorflow.runs_fused_in_xla(),
    )
