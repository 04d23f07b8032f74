"""Many callers at once: Python threads calling the op (eager and traced) and
its gradient, tf.data pipelines mapping it in parallel, and the NumPy binding
from threads with the GIL released. Every result is checked against the
reference, or bitwise against the same call made alone."""

import concurrent.futures
import threading

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from helpers.reference_checks import assert_close_at_scale, forward_and_gradients, rounded_to, term_magnitudes
from helpers.support import ACTIVATIONS, DTYPES, assert_close, draw_operands, numpy_dtype, reference_dtype
from spatial_ops import _core
from spatial_ops.activations import resolve

pytestmark = pytest.mark.sanitized

THREADS = 16
CALLS_PER_THREAD = 6
# Small shapes, and one large enough that TensorFlow's intra-op pool splits
# each call while the other threads' calls run.
SHAPES = [((8, 33, 17), (33, 17)), ((5, 7, 3, 11), (3, 11)), ((64, 64, 65), (64, 65))]


def check_one_call(rng, traced):
    """One random call (shape, activation, dtype, reduction) and its gradients
    against the reference; raises AssertionError on a mismatch."""
    x_shape, weight_shape = SHAPES[rng.integers(len(SHAPES))]
    case = ACTIVATIONS[rng.integers(len(ACTIVATIONS))]
    dtype = DTYPES[rng.integers(len(DTYPES))]
    options = dict(
        activation=case.activation,
        reduce_axis=[None, -1, (1, 2)][rng.integers(3)],
        reduction=["sum", "mean"][rng.integers(2)],
    )
    x, kernel, bias = draw_operands(rng, x_shape, weight_shape, dtype, case.kinks)
    y_shape = spatial_ops.reference.spatial_dense(x[:0], kernel, bias, **options).shape[1:]
    dy = rng.normal(size=(x_shape[0], *y_shape)).astype(numpy_dtype(dtype))
    fused_fn = traced if traced is not None else spatial_ops.spatial_dense
    fused, fused_grads = forward_and_gradients(fused_fn, x, kernel, bias, dy, **options)
    ref_type = numpy_dtype(reference_dtype(dtype))
    as_ref = [a.astype(ref_type) for a in (x, kernel, bias, dy)]
    expected, expected_grads = forward_and_gradients(spatial_ops.reference.spatial_dense, *as_ref, **options)
    magnitudes = term_magnitudes(*as_ref, **options)
    for name, got, want in zip(("y", "dx", "dkernel", "dbias"), (fused, *fused_grads), (expected, *expected_grads)):
        assert_close_at_scale(got, rounded_to(dtype, want), dtype, magnitudes[name], what=name)


def run_in_threads(work, seeds):
    """work(seed) in THREADS threads started together; re-raises any failure."""
    start = threading.Barrier(len(seeds))

    def task(seed):
        start.wait()
        return work(seed)

    with concurrent.futures.ThreadPoolExecutor(len(seeds)) as pool:
        return [future.result() for future in [pool.submit(task, seed) for seed in seeds]]


@pytest.mark.parametrize("mode", ["eager", "tf.function"])
def test_threads_calling_the_op_and_its_gradient(rng, mode):
    traced = None
    if mode == "tf.function":
        # One traced function shared by every thread (retraced per signature).
        traced = tf.function(lambda x, k, b, **options: spatial_ops.spatial_dense(x, k, b, **options))

    def work(seed):
        thread_rng = np.random.default_rng(seed)
        for _ in range(CALLS_PER_THREAD):
            check_one_call(thread_rng, traced)
        return CALLS_PER_THREAD

    assert sum(run_in_threads(work, rng.integers(2**63, size=THREADS))) == THREADS * CALLS_PER_THREAD


def test_tf_data_maps_the_op_and_its_gradient_in_parallel(rng):
    """A dataset of inputs mapped with num_parallel_calls=AUTOTUNE and no
    ordering guarantee; each element's output and gradients, matched back to
    it by index, equal the reference's."""
    count, shape = 96, (6, 13, 7)
    case = next(c for c in ACTIVATIONS if c.id == "gelu")
    xs, kernel, bias = draw_operands(rng, (count, *shape), shape[1:], tf.float32)
    dys = rng.normal(size=(count, *shape[:-1])).astype(np.float32)
    options = dict(activation=case.activation, reduce_axis=-1)

    def fused(index, x, dy):
        operands = [x, tf.constant(kernel), tf.constant(bias)]
        with tf.GradientTape() as tape:
            tape.watch(operands)
            y = spatial_ops.spatial_dense(*operands, **options)
        return (index, y, *tape.gradient(y, operands, output_gradients=dy))

    dataset = tf.data.Dataset.from_tensor_slices((tf.range(count), xs, dys))
    dataset = dataset.map(fused, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    seen = set()
    for index, *results in dataset.prefetch(tf.data.AUTOTUNE):
        i = int(index)
        seen.add(i)
        expected, expected_grads = forward_and_gradients(
            spatial_ops.reference.spatial_dense, xs[i], kernel, bias, dys[i], **options
        )
        magnitudes = term_magnitudes(xs[i], kernel, bias, dys[i], **options)
        for name, got, want in zip(("y", "dx", "dkernel", "dbias"), results, (expected, *expected_grads)):
            assert_close_at_scale(got, want, tf.float32, magnitudes[name], what=f"{name} of element {i}")
    assert seen == set(range(count))


def test_tf_data_batches_mapped_in_parallel(rng):
    count, batch, spatial = 64, 8, (9, 5)
    xs, kernel, bias = draw_operands(rng, (count * batch, *spatial), spatial, tf.float64)
    dataset = tf.data.Dataset.from_tensor_slices(xs).batch(batch)
    dataset = dataset.map(
        lambda x: spatial_ops.spatial_dense(
            x, kernel, bias, activation="softplus", reduce_axis=(1, 2), reduction="mean"
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    outputs = np.concatenate([y.numpy() for y in dataset])
    expected = spatial_ops.reference.spatial_dense(
        xs, kernel, bias, activation="softplus", reduce_axis=(1, 2), reduction="mean"
    )
    assert outputs.shape == (count * batch,)
    assert_close(outputs, expected, tf.float64)


def test_numpy_binding_from_threads_matches_single_calls_bitwise(rng):
    """_core releases the GIL around the kernels: calls from many threads at
    once give exactly the bits of the same calls made one at a time."""
    act = resolve("mish")
    calls = []
    for dtype in DTYPES * 4:
        x, kernel, bias = draw_operands(rng, (7, 3, 129, 5), (3, 129, 5), dtype)
        dy = rng.normal(size=(7, 3, 5)).astype(x.dtype)
        calls.append((x, kernel, bias, dy))

    def run(call):
        x, kernel, bias, dy = call
        y = _core.forward(x, kernel, bias, act.table_row, list(act.params), "mean")
        return [y, *_core.backward(dy, x, kernel, bias, act.table_row, list(act.params), "mean")]

    alone = [run(call) for call in calls]
    together = run_in_threads(lambda i: run(calls[i]), list(range(len(calls))))
    for one, other in zip(alone, together):
        for a, b in zip(one, other):
            np.testing.assert_array_equal(np.asarray(a).view(np.uint8), np.asarray(b).view(np.uint8))
