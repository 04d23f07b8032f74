"""Bad input gets a clear error naming the shapes: ValueError from the Python
API and the layer, InvalidArgumentError from the raw ops."""

import numpy as np
import pytest
import tensorflow as tf

import spatial_ops
from spatial_ops import ops as fused_ops

f32 = lambda *shape: tf.zeros(shape, tf.float32)


@pytest.mark.parametrize("call,match", [
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
], ids=range(14))
def test_python_api_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("make_layer,shape,match", [
    (lambda: spatial_ops.SpatialDense(), (4,), r"known spatial"),
    (lambda: spatial_ops.SpatialDense(weight_shape=(3, 2)), (2, 3, 4), r"weight_shape"),
    (lambda: spatial_ops.SpatialDense(reduce_axis=0), (2, 3, 4), r"batch"),
    (lambda: spatial_ops.SpatialDense(reduce_axis=5), (2, 3, 4), r"out of range"),
    (lambda: spatial_ops.Custom2DDense(3, 3), (2, 4, 4), r"kernel shape \(3, 3\).*\(4, 4\)"),
], ids=range(5))
def test_layer_raises_value_error(make_layer, shape, match):
    with pytest.raises(ValueError, match=match):
        make_layer()(np.zeros(shape, np.float32))


def test_layer_refuses_a_bad_reduction_at_construction():
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        spatial_ops.SpatialDense(reduction="max")


def raw(x, kernel, bias, **attrs):
    return fused_ops._forward_op(x, kernel, bias, **attrs)


@pytest.mark.parametrize("call,match", [
    (lambda: raw(f32(2, 3, 4), f32(3, 4), f32(3, 4)), r"4-D.*x \[2, 3, 4\]"),
    (lambda: raw(f32(2, 1, 3, 4), f32(1, 3, 5), f32(1, 3, 4)), r"kernel.*x \[2, 1, 3, 4\], kernel \[1, 3, 5\]"),
    (lambda: raw(f32(2, 1, 3, 4), f32(1, 3, 4), f32(3, 4)), r"bias \[3, 4\]"),
    (lambda: raw(f32(2, 1, 3, 4), f32(1, 3, 4), f32(1, 3, 4), has_bias=False), r"bias must be \[0\]"),
    (lambda: raw(f32(2, 1, 3, 4), f32(1, 3, 4), f32(1, 3, 4), activation="nope"), r"unknown activation 'nope'"),
    (lambda: raw(f32(2, 1, 3, 4), f32(1, 3, 4), f32(1, 3, 4), activation="elu"), r"takes 1 parameter"),
    (lambda: raw(f32(2, 1, 3, 4), f32(1, 3, 4), f32(1, 3, 4), activation="elu",
                 activation_params=["one"]), r"decimal"),
    (lambda: raw(f32(2, 1, 3, 4), f32(1, 3, 4), f32(1, 3, 4), activation="elu",
                 activation_params=["nan"]), r"NaN"),
    (lambda: raw(f32(2, 1, 3, 4), f32(1, 3, 4), tf.zeros([1, 3, 4], tf.float64)), r"double"),
    (lambda: fused_ops._backward_op(f32(2, 1, 3), f32(2, 1, 3, 4), f32(1, 3, 4), f32(1, 3, 4)),
     r"dy must have the forward output's shape \[2, 1, 3, 4\], got dy \[2, 1, 3\]"),
    (lambda: fused_ops._backward_op(f32(2, 1, 4), f32(2, 1, 3, 4), f32(1, 3, 4), f32(1, 3, 4),
                                    reduction="sum"), None),  # valid: the reduced output's shape
], ids=range(11))
def test_raw_ops_raise_invalid_argument(call, match):
    if match is None:
        assert [t.shape for t in call()] == [(2, 1, 3, 4), (1, 3, 4), (1, 3, 4)]
        return
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        call()


def test_raw_op_shape_function_refuses_mismatch_in_graphs():
    fn = tf.function(lambda x, k: raw(x, k, tf.zeros([1, 3, 4])))
    with pytest.raises(ValueError, match="Dimension"):
        fn.get_concrete_function(tf.TensorSpec([2, 1, 3, 4]), tf.TensorSpec([1, 3, 5]))
