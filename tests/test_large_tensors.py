"""More than 2**31 elements, end to end: the forward and the gradient of a
bfloat16 x of 2,147,600,929 elements (4 GiB), spot-checked against the
reference at the far end (the last batch rows, the last spatial positions of
every row) and at the start and the middle. A 32-bit index anywhere would
wrap before the far end. Peak memory is about x plus one tensor of its size."""

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.support import assert_close

# Primes, so that a wrapped index lands on another position, not an alias.
HEIGHT, WIDTH = 251, 263
BATCH = 2**31 // (HEIGHT * WIDTH) + 2
ACTIVATION = "gelu"
DTYPE = tf.bfloat16


@pytest.fixture(scope="module")
def operands():
    """x (BATCH, HEIGHT, WIDTH): a random value per batch row plus a random
    value per spatial position, so every row and every position differ (one
    pass to build, no temporary of x's size); per-location kernel and bias."""
    assert BATCH * HEIGHT * WIDTH > 2**31
    uniform = lambda shape, seed, low, high: tf.random.stateless_uniform(
        shape, seed=[6, seed], minval=low, maxval=high, dtype=DTYPE
    )
    x = uniform([BATCH, 1, 1], 31, -2.0, 2.0) + uniform([HEIGHT, WIDTH], 32, -1.0, 1.0)
    return x, uniform([HEIGHT, WIDTH], 33, 0.5, 1.5), uniform([HEIGHT, WIDTH], 34, -1.0, 1.0)


# Batch rows checked whole: the first, the middle, the last two.
ROWS = [0, BATCH // 2, BATCH - 2, BATCH - 1]


def reference(x, kernel, bias, **kwargs):
    """The reference in float64 on (a slice of) the bfloat16 operands."""
    as64 = lambda t: tf.cast(t, tf.float64)
    return spatial_ops.reference.spatial_dense(as64(x), as64(kernel), as64(bias), activation=ACTIVATION, **kwargs)


@pytest.mark.slow
def test_forward_beyond_2_to_the_31_elements(operands):
    x, kernel, bias = operands
    y = spatial_ops.spatial_dense(x, kernel, bias, activation=ACTIVATION)
    assert y.shape == x.shape
    rows = tf.gather(x, ROWS)
    assert_close(tf.gather(y, ROWS), reference(rows, kernel, bias), DTYPE, what="y rows")
    # The last three positions of the last spatial row, in every batch row.
    far = np.s_[:, HEIGHT - 1 :, WIDTH - 3 :]
    assert_close(y[far], reference(x[far], kernel[far[1:]], bias[far[1:]]), DTYPE, what="y far end")


@pytest.mark.slow
def test_gradient_beyond_2_to_the_31_elements(operands):
    """Reduced over the last axis (y and dy are small; dx is x's size)."""
    x, kernel, bias = operands
    dy = tf.random.stateless_normal([BATCH, HEIGHT], seed=[6, 35], dtype=DTYPE)
    with tf.GradientTape() as tape:
        tape.watch([x, kernel, bias])
        y = spatial_ops.spatial_dense(x, kernel, bias, activation=ACTIVATION, reduce_axis=-1)
    dx, dkernel, dbias = tape.gradient(y, [x, kernel, bias], output_gradients=dy)
    del tape

    rows = tf.gather(x, ROWS)
    assert_close(tf.gather(y, ROWS), reference(rows, kernel, bias, reduce_axis=-1), DTYPE, what="y rows")
    as64 = lambda t: tf.cast(t, tf.float64)
    with tf.GradientTape() as tape:
        operands64 = [as64(rows), as64(kernel), as64(bias)]
        tape.watch(operands64)
        y_rows = spatial_ops.reference.spatial_dense(*operands64, activation=ACTIVATION, reduce_axis=-1)
    expected_dx_rows = tape.gradient(y_rows, operands64[0], output_gradients=as64(tf.gather(dy, ROWS)))
    assert_close(tf.gather(dx, ROWS), expected_dx_rows, DTYPE, what="dx rows")

    # dkernel and dbias of the first and the last spatial rows sum over every
    # batch row, the last included.
    for h in (np.s_[:1], np.s_[HEIGHT - 1 :]):
        with tf.GradientTape() as tape:
            sliced = [as64(x[:, h]), as64(kernel[h]), as64(bias[h])]
            tape.watch(sliced)
            y_slice = spatial_ops.reference.spatial_dense(*sliced, activation=ACTIVATION, reduce_axis=-1)
        _, want_dkernel, want_dbias = tape.gradient(y_slice, sliced, output_gradients=as64(dy[:, h]))
        assert_close(dkernel[h], want_dkernel, DTYPE, what=f"dkernel rows {h}")
        assert_close(dbias[h], want_dbias, DTYPE, what=f"dbias rows {h}")
