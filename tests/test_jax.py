"""The JAX front-end (spatial_ops.jax): the same kernels as XLA FFI custom
calls. Values and gradients against the float64 NumPy reference for every
activation, reduction and dtype, and bit for bit against the TensorFlow op
(the same kernels) where TensorFlow is installed; jit (the custom call in the
HLO), first and second order (jax.test_util.check_grads), vmap by its
batching rules, errors. On the device the `device` fixture names: the host
handlers here, the CUDA handlers on a GPU machine."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from jax.test_util import check_grads  # noqa: E402

import spatial_ops.jax as sjax  # noqa: E402
from helpers.cases import draw_operands  # noqa: E402
from helpers.front_end_checks import SECOND_ORDER_CASES, ValueChecks  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 operands stay float64


def jax_device(device):
    """JAX's device for the tested device's name ("cuda" is JAX's "gpu")."""
    return jax.devices("gpu" if device == "cuda" else "cpu")[0]


@pytest.fixture(scope="module")
def put(device):
    """NumPy arrays (or None) -> JAX arrays on the tested device."""
    target = jax_device(device)
    return lambda *arrays: tuple(None if a is None else jax.device_put(jnp.asarray(a), target) for a in arrays)


def jax_forward_and_gradients(device, x, kernel, bias, dy, **kwargs):
    target = jax_device(device)
    operands = [jax.device_put(jnp.asarray(a), target) for a in (x, kernel, bias) if a is not None]
    call = lambda *ops: (
        sjax.spatial_dense(*ops, **kwargs) if bias is not None else sjax.spatial_dense(*ops, None, **kwargs)
    )
    y, vjp = jax.vjp(call, *operands)
    assert y.devices() == {target}
    return np.asarray(y), [np.asarray(g) for g in vjp(jax.device_put(jnp.asarray(dy), target))]


class TestJaxValues(ValueChecks):
    forward_and_gradients = staticmethod(jax_forward_and_gradients)


def test_jit_runs_the_custom_call_with_the_same_bits(rng, put):
    x, kernel, bias = put(*draw_operands(rng, (8, 6, 5), (6, 5), "float32"))
    loss = lambda x, k, b: jnp.sum(sjax.spatial_dense(x, k, b, activation="gelu", reduce_axis=-1) ** 2)
    compiled = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))
    hlo = compiled.lower(x, kernel, bias).compile().as_text()
    assert "spatial_ops_spatial_dense" in hlo and "spatial_ops_spatial_dense_grad" in hlo
    for got, want in zip(
        jax.tree.leaves(compiled(x, kernel, bias)),
        jax.tree.leaves(jax.value_and_grad(loss, argnums=(0, 1, 2))(x, kernel, bias)),
    ):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("activation,reduce_axis,reduction", SECOND_ORDER_CASES, ids=str)
def test_first_and_second_order_against_finite_differences(rng, put, activation, reduce_axis, reduction):
    x, kernel, bias = put(*draw_operands(rng, (4, 3, 5), (3, 5), "float64", kinks=(0.0,)))
    fn = lambda x, k, b: sjax.spatial_dense(
        x, k, b, activation=activation, reduce_axis=reduce_axis, reduction=reduction
    )
    # eps 1e-5, not the default 1e-4: central differences then err 100 times less,
    # far below the tolerance (at 1e-4 they reached 2.4e-6 on some draws).
    check_grads(fn, (x, kernel, bias), order=2, modes=["rev"], atol=1e-6, rtol=1e-6, eps=1e-5)


def test_a_third_derivative_is_refused(rng, put):
    x, kernel, bias = put(*draw_operands(rng, (2, 3, 4), (3, 4), "float64"))
    f = lambda x: jnp.sum(sjax.spatial_dense(x, kernel, bias, activation="tanh"))
    third = jax.grad(lambda x: jnp.sum(jax.grad(lambda x: jnp.sum(jax.grad(f)(x)))(x)))
    with pytest.raises(NotImplementedError, match="second order"):
        third(x)


def _stacked(fn, *columns):
    return jnp.stack([fn(*args) for args in zip(*columns)])


@pytest.mark.parametrize("reduce_axis", [None, -1], ids=str)
def test_vmap_over_x_folds_into_the_batch(rng, put, reduce_axis):
    xs, kernel, bias = put(rng.normal(size=(3, 4, 5, 6)), rng.normal(size=(5, 6)), rng.normal(size=(5, 6)))
    fn = lambda x: sjax.spatial_dense(x, kernel, bias, activation="gelu", reduce_axis=reduce_axis)
    np.testing.assert_array_equal(jax.vmap(fn)(xs), _stacked(fn, xs))
    jaxpr = str(jax.make_jaxpr(jax.vmap(fn))(xs))
    assert "while" not in jaxpr and jaxpr.count("custom_vmap_call") <= 1
    per_example = jax.vmap(
        jax.grad(
            lambda x, k: jnp.sum(sjax.spatial_dense(x, k, bias, activation="gelu", reduce_axis=reduce_axis) ** 2),
            argnums=(0, 1),
        ),
        in_axes=(0, None),
    )(xs, kernel)
    one_by_one = [
        jax.grad(
            lambda x, k: jnp.sum(sjax.spatial_dense(x, k, bias, activation="gelu", reduce_axis=reduce_axis) ** 2),
            argnums=(0, 1),
        )(x, kernel)
        for x in xs
    ]
    for got, want in zip(per_example, zip(*one_by_one)):
        np.testing.assert_allclose(got, jnp.stack(want), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("use_bias", [True, False])
def test_vmap_over_weights_makes_a_spatial_axis(rng, put, use_bias):
    xs, kernels, bias = put(
        rng.normal(size=(3, 4, 5, 6)), rng.normal(size=(3, 5, 6)), rng.normal(size=(5, 6)) if use_bias else None
    )
    loss = lambda x, k: jnp.sum(jnp.tanh(sjax.spatial_dense(x, k, bias, activation="silu", reduce_axis=1)))
    for in_axes in ((0, 0), (None, 0)):
        columns = (xs if in_axes[0] == 0 else [xs[0]] * 3, kernels)
        np.testing.assert_allclose(
            jax.vmap(loss, in_axes)(xs if in_axes[0] == 0 else xs[0], kernels), _stacked(loss, *columns), rtol=1e-12
        )
        grads = jax.vmap(jax.grad(loss, argnums=(0, 1)), in_axes)(xs if in_axes[0] == 0 else xs[0], kernels)
        one_by_one = [jax.grad(loss, argnums=(0, 1))(x, k) for x, k in zip(*columns)]
        for got, want in zip(grads, zip(*one_by_one)):
            np.testing.assert_allclose(got, jnp.stack(want), rtol=1e-12, atol=1e-12)


def test_bad_input_names_the_shapes():
    x = jnp.zeros((2, 3, 4), jnp.float32)
    with pytest.raises(ValueError, match=r"kernel shape \(3, 5\) does not broadcast .*\(2, 3, 4\)"):
        sjax.spatial_dense(x, jnp.ones((3, 5), jnp.float32))
    with pytest.raises(ValueError, match=r"mixed dtypes: x is float32 \(2, 3, 4\) but kernel is float64"):
        sjax.spatial_dense(x, jnp.ones((3, 4), jnp.float64))
    with pytest.raises(ValueError, match="includes axis 0, the batch axis"):
        sjax.spatial_dense(x, jnp.ones((3, 4), jnp.float32), reduce_axis=0)
    with pytest.raises(ValueError, match="supported dtypes"):
        sjax.spatial_dense(jnp.zeros((2, 3), jnp.int32), jnp.ones((3,), jnp.int32))


def test_the_library_lists_its_targets_per_platform():
    """The custom-call targets and handlers come from the library
    (spatial_ops_ffi_targets), CUDA ones exactly when it has the CUDA kernels."""
    import ctypes

    from spatial_ops import _core
    from spatial_ops.jax import _loader

    listed = _loader._targets_of(ctypes.CDLL(str(_loader._LIBRARY)))
    platforms = ["cpu", "CUDA"] if _core.built_with_cuda else ["cpu"]
    assert [(op, platform) for op, _, platform, _ in listed] == [
        (op, platform) for platform in platforms for op in ("forward", "backward")
    ]
    assert {op: target for op, target, _, _ in listed} == {
        "forward": "spatial_ops_spatial_dense",
        "backward": "spatial_ops_spatial_dense_grad",
    }
    assert all(handler for *_, handler in listed)
    assert sjax.register_handlers() == (("cpu", "gpu", "cuda") if _core.built_with_cuda else ("cpu",))
