"""Prints a digest of fused outputs and gradients with N intra-op threads
(argv[1]), for every activation family. Run in a fresh process by
test_determinism.py: the thread count and the CPU build (SPATIAL_OPS_CPU_ISA)
are fixed at start."""

import hashlib
import sys

import tensorflow as tf

tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[1]))

import numpy as np  # noqa: E402

import spatial_ops  # noqa: E402

rng = np.random.default_rng(1234)
digest = hashlib.sha256()
for (shape, weight_shape, reduce_axis, dtype), activation in zip(
    [
        ((512, 64, 64), (64, 64), None, np.float32),  # several spatial and batch blocks
        ((20000, 3, 3), (3, 3), -1, np.float32),  # many batch blocks, tiny weights
        ((64, 96, 80), (96, 80), 1, np.float64),
        ((256, 40, 50), (40, 50), -1, tf.bfloat16.as_numpy_dtype),
        ((64, 33, 77), (33, 77), -1, np.float16),
        ((128, 50, 60), (50, 60), None, np.float32),
        ((128, 50, 60), (50, 60), 2, np.float32),
        ((128, 50, 60), (50, 60), None, np.float32),
    ],
    ["gelu", "mish", "elu", "tanh", "softplus", "sigmoid", "silu", spatial_ops.Activation("gelu", approximate=True)],
):
    x = tf.constant(rng.normal(size=shape).astype(dtype))
    kernel = tf.constant(rng.normal(size=weight_shape).astype(dtype))
    bias = tf.constant(rng.normal(size=weight_shape).astype(dtype))
    with tf.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        y = spatial_ops.spatial_dense(x, kernel, bias, activation=activation, reduce_axis=reduce_axis)
    dy = tf.constant(rng.normal(size=y.shape).astype(dtype))
    for t in [y] + tape.gradient(y, [x, kernel, bias], output_gradients=dy):
        digest.update(t.numpy().tobytes())
print(digest.hexdigest())
