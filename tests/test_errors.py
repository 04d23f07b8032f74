"""Bad input gets a clear error naming the shapes: ValueError from the Python
API and the layer. (The raw ops' InvalidArgumentError: test_raw_ops.py.)"""

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops

pytestmark = pytest.mark.sanitized

f32 = lambda *shape: tf.zeros(shape, tf.float32)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: spatial_ops.spatial_dense(f32(5), f32(5)), r"rank >= 2.*\(5,\)"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3, 4), f32(3, 5)), r"kernel shape \(3, 5\).*\(3, 4\)"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3, 4), f32(3, 4), f32(4, 4)), r"bias shape \(4, 4\)"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3, 4), f32(2, 3, 4)), r"more dimensions"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3, 4), f32(3, 4), reduce_axis=0), r"batch"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3, 4), f32(3, 4), reduce_axis=-3), r"batch"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3, 4), f32(3, 4), reduce_axis=3), r"out of range.*rank 3"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3, 4), f32(3, 4), reduce_axis=(1, -2)), r"twice"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3, 4), f32(3, 4), reduction="max"), r"'sum' or 'mean'"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3), tf.zeros([3], tf.float64)), r"mixed dtypes.*float32.*float64"),
        (lambda: spatial_ops.spatial_dense(tf.zeros([2, 3], tf.int32), f32(3)), r"dtype int32"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3), f32(3), activation="nope"), r"nope"),
        (lambda: spatial_ops.spatial_dense(f32(2, 3), f32(3), activation="threshold"), r"threshold"),
        (lambda: spatial_ops.Activation("elu", slope=2.0), r"slope"),
    ],
    ids=range(14),
)
def test_python_api_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "make_layer,shape,match",
    [
        (lambda: spatial_ops.SpatialDense(), (4,), r"known spatial"),
        (lambda: spatial_ops.SpatialDense(weight_shape=(3, 2)), (2, 3, 4), r"weight_shape"),
        (lambda: spatial_ops.SpatialDense(reduce_axis=0), (2, 3, 4), r"batch"),
        (lambda: spatial_ops.SpatialDense(reduce_axis=5), (2, 3, 4), r"out of range"),
        (lambda: spatial_ops.Custom2DDense(3, 3), (2, 4, 4), r"kernel shape \(3, 3\).*\(4, 4\)"),
    ],
    ids=range(5),
)
def test_layer_raises_value_error(make_layer, shape, match):
    with pytest.raises(ValueError, match=match):
        make_layer()(np.zeros(shape, np.float32))


def test_layer_refuses_a_bad_reduction_at_construction():
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        spatial_ops.SpatialDense(reduction="max")
