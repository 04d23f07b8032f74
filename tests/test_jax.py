"""The JAX front-end (spatial_ops.jax): the same kernels as XLA FFI custom
calls. Values and gradients against the float64 reference for every
activation, reduction and dtype, and bit for bit against the TensorFlow op
(the same kernels); jit (the custom call in the HLO), first and second
order (jax.test_util.check_grads), vmap by its batching rules, errors."""

import numpy as np
import pytest
import tensorflow as tf

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import spatial_ops  # noqa: E402
import spatial_ops.jax as sjax  # noqa: E402
from helpers.support import (ACTIVATIONS, ACTIVATION_IDS, DTYPES, REDUCTIONS_3D, REDUCTIONS_4D,  # noqa: E402
                             assert_close, draw_operands, numpy_dtype, reference_dtype)

jax.config.update("jax_enable_x64", True)  # float64 operands stay float64


def _jax_forward_and_gradients(x, kernel, bias, dy, **kwargs):
    operands = [jnp.asarray(a) for a in (x, kernel, bias) if a is not None]
    call = lambda *ops: sjax.spatial_dense(*ops, **kwargs) if bias is not None else \
        sjax.spatial_dense(*ops, None, **kwargs)
    y, vjp = jax.vjp(call, *operands)
    return y, vjp(jnp.asarray(dy))


def _tf_forward_and_gradients(fn, x, kernel, bias, dy, **kwargs):
    operands = [tf.constant(a) for a in (x, kernel, bias) if a is not None]
    with tf.GradientTape() as tape:
        tape.watch(operands)
        y = fn(*operands, **kwargs) if bias is not None else fn(*operands, None, **kwargs)
    return y, tape.gradient(y, operands, output_gradients=tf.constant(dy))


def check_against_reference_and_tf(rng, activation, kinks, x_shape, weight_shape, dtype, use_bias=True,
                                   bitwise=True, **kwargs):
    x, kernel, bias = draw_operands(rng, x_shape, weight_shape, dtype, kinks, use_bias=use_bias)
    kwargs = dict(activation=activation, **kwargs)
    out_shape = spatial_ops.reference.spatial_dense(x, kernel, bias, **kwargs).shape
    dy = rng.normal(size=out_shape).astype(numpy_dtype(dtype))
    y, grads = _jax_forward_and_gradients(x, kernel, bias, dy, **kwargs)
    ref = numpy_dtype(reference_dtype(dtype))
    as_ref = lambda a: None if a is None else a.astype(ref)
    want_y, want_grads = _tf_forward_and_gradients(spatial_ops.reference.spatial_dense, as_ref(x), as_ref(kernel),
                                                   as_ref(bias), dy.astype(ref), **kwargs)
    tf_y, tf_grads = _tf_forward_and_gradients(spatial_ops.spatial_dense, x, kernel, bias, dy, **kwargs)
    for name, got, want, same_kernels in zip(("y", "dx", "dkernel", "dbias"), (y, *grads), (want_y, *want_grads),
                                             (tf_y, *tf_grads)):
        assert got.dtype == numpy_dtype(dtype), name
        assert_close(np.asarray(got, np.float64), want, dtype, what=name)
        if bitwise:
            np.testing.assert_array_equal(np.asarray(got), same_kernels.numpy(), err_msg=f"{name} vs the TF op")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_3D, ids=str)
@pytest.mark.parametrize("case", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_every_activation_reduction_dtype(rng, case, reduce_axis, reduction, dtype):
    check_against_reference_and_tf(rng, case.activation, case.kinks, (6, 5, 7), (5, 7), dtype,
                                   reduce_axis=reduce_axis, reduction=reduction)


@pytest.mark.parametrize("reduce_axis,reduction", REDUCTIONS_4D, ids=str)
def test_several_reduced_axes(rng, reduce_axis, reduction):
    # Axes outside the kernel's run are reduced by jnp (TF: tf.reduce_*), in
    # another order: close, not bitwise.
    check_against_reference_and_tf(rng, "gelu", (), (3, 4, 5, 6), (4, 5, 6), tf.float64, bitwise=False,
                                   reduce_axis=reduce_axis, reduction=reduction)


@pytest.mark.parametrize("x_shape,weight_shape,reduce_axis", [
    ((6, 5, 7), (7,), None), ((6, 5, 7), (5, 1), -1), ((6, 5, 7), (), 1), ((2, 4, 5, 3), (4, 5, 1), (1, 2)),
    ((0, 5, 7), (5, 7), -1), ((4, 5000), (5000,), -1),
], ids=str)
@pytest.mark.parametrize("use_bias", [True, False])
def test_shapes_and_broadcast_weights(rng, x_shape, weight_shape, reduce_axis, use_bias):
    check_against_reference_and_tf(rng, "silu", (), x_shape, weight_shape, tf.float64, use_bias=use_bias,
                                   bitwise=False, reduce_axis=reduce_axis)


def test_an_unfused_callable_is_applied_after_the_affine_op(rng):
    square_minus = lambda v: v * v - v  # arithmetic only: the reference applies it to TF tensors
    check_against_reference_and_tf(rng, square_minus, (), (6, 5, 7), (5, 7), tf.float64, bitwise=False,
                                   reduce_axis=-1)


def test_jit_runs_the_custom_call_with_the_same_bits(rng):
    x, kernel, bias = (jnp.asarray(a) for a in draw_operands(rng, (8, 6, 5), (6, 5), tf.float32))
    loss = lambda x, k, b: jnp.sum(sjax.spatial_dense(x, k, b, activation="gelu", reduce_axis=-1) ** 2)
    compiled = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    hlo = compiled.lower(x, kernel, bias).compile().as_text()
    assert "spatial_ops_spatial_dense" in hlo and "spatial_ops_spatial_dense_grad" in hlo
    for got, want in zip(jax.tree.leaves(compiled(x, kernel, bias)),
                         jax.tree.leaves(jax.value_and_grad(loss, argnums=(0, 1, 2))(x, kernel, bias))):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("activation,reduce_axis,reduction", [
    ("tanh", None, "sum"), ("gelu", -1, "sum"), ("softplus", (1, 2), "mean"), ("elu", 1, "mean"),
    (spatial_ops.Activation("celu", alpha=0.7), -1, "sum"),
], ids=str)
def test_first_and_second_order_against_finite_differences(rng, activation, reduce_axis, reduction):
    x, kernel, bias = (jnp.asarray(a) for a in draw_operands(rng, (4, 3, 5), (3, 5), tf.float64, kinks=(0.0,)))
    fn = lambda x, k, b: sjax.spatial_dense(x, k, b, activation=activation, reduce_axis=reduce_axis,
                                            reduction=reduction)
    check_grads(fn, (x, kernel, bias), order=2, modes=["rev"], atol=1e-6, rtol=1e-6)


def test_a_third_derivative_is_refused(rng):
    x, kernel, bias = (jnp.asarray(a) for a in draw_operands(rng, (2, 3, 4), (3, 4), tf.float64))
    f = lambda x: jnp.sum(sjax.spatial_dense(x, kernel, bias, activation="tanh"))
    third = jax.grad(lambda x: jnp.sum(jax.grad(lambda x: jnp.sum(jax.grad(f)(x)))(x)))
    with pytest.raises(NotImplementedError, match="second order"):
        third(x)


def _stacked(fn, *columns):
    return jnp.stack([fn(*args) for args in zip(*columns)])


@pytest.mark.parametrize("reduce_axis", [None, -1], ids=str)
def test_vmap_over_x_folds_into_the_batch(rng, reduce_axis):
    xs = jnp.asarray(rng.normal(size=(3, 4, 5, 6)))
    kernel, bias = jnp.asarray(rng.normal(size=(5, 6))), jnp.asarray(rng.normal(size=(5, 6)))
    fn = lambda x: sjax.spatial_dense(x, kernel, bias, activation="gelu", reduce_axis=reduce_axis)
    np.testing.assert_array_equal(jax.vmap(fn)(xs), _stacked(fn, xs))
    jaxpr = str(jax.make_jaxpr(jax.vmap(fn))(xs))
    assert "while" not in jaxpr and jaxpr.count("custom_vmap_call") <= 1
    per_example = jax.vmap(jax.grad(lambda x, k: jnp.sum(sjax.spatial_dense(x, k, bias, activation="gelu",
                                                                           reduce_axis=reduce_axis) ** 2),
                                    argnums=(0, 1)), in_axes=(0, None))(xs, kernel)
    one_by_one = [jax.grad(lambda x, k: jnp.sum(sjax.spatial_dense(x, k, bias, activation="gelu",
                                                                  reduce_axis=reduce_axis) ** 2),
                           argnums=(0, 1))(x, kernel) for x in xs]
    for got, want in zip(per_example, zip(*one_by_one)):
        np.testing.assert_allclose(got, jnp.stack(want), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("use_bias", [True, False])
def test_vmap_over_weights_makes_a_spatial_axis(rng, use_bias):
    xs = jnp.asarray(rng.normal(size=(3, 4, 5, 6)))
    kernels = jnp.asarray(rng.normal(size=(3, 5, 6)))
    bias = jnp.asarray(rng.normal(size=(5, 6))) if use_bias else None
    loss = lambda x, k: jnp.sum(jnp.tanh(sjax.spatial_dense(x, k, bias, activation="silu", reduce_axis=1)))
    for in_axes in ((0, 0), (None, 0)):
        columns = (xs if in_axes[0] == 0 else [xs[0]] * 3, kernels)
        np.testing.assert_allclose(jax.vmap(loss, in_axes)(xs if in_axes[0] == 0 else xs[0], kernels),
                                   _stacked(loss, *columns), rtol=1e-12)
        grads = jax.vmap(jax.grad(loss, argnums=(0, 1)), in_axes)(xs if in_axes[0] == 0 else xs[0], kernels)
        one_by_one = [jax.grad(loss, argnums=(0, 1))(x, k) for x, k in zip(*columns)]
        for got, want in zip(grads, zip(*one_by_one)):
            np.testing.assert_allclose(got, jnp.stack(want), rtol=1e-12, atol=1e-12)


def test_bad_input_names_the_shapes(rng):
    x = jnp.zeros((2, 3, 4), jnp.float32)
    with pytest.raises(ValueError, match=r"kernel shape \(3, 5\) does not broadcast .*\(2, 3, 4\)"):
        sjax.spatial_dense(x, jnp.ones((3, 5), jnp.float32))
    with pytest.raises(ValueError, match=r"mixed dtypes: x is float32 \(2, 3, 4\) but kernel is float64"):
        sjax.spatial_dense(x, jnp.ones((3, 4), jnp.float64))
    with pytest.raises(ValueError, match="includes axis 0, the batch axis"):
        sjax.spatial_dense(x, jnp.ones((3, 4), jnp.float32), reduce_axis=0)
    with pytest.raises(ValueError, match="supported dtypes"):
        sjax.spatial_dense(jnp.zeros((2, 3), jnp.int32), jnp.ones((3,), jnp.int32))
