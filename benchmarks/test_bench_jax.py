"""JAX: the fused op (spatial_ops.jax, an XLA FFI custom call) against JAX's
own composite of the same math (spatial_ops.composite on keras.ops), both
under jax.jit, where XLA fuses the composite itself. A forward and a
training step (the gradients of sum(y * w) for x, kernel and bias) at a
model layer's size and the largest, then the host overhead of one call on a
1x4x4 input. benchmarks/report.py runs it with KERAS_BACKEND=jax."""

import functools

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402
from harness import LARGE, LAYER, measure, size_id  # noqa: E402

import spatial_ops.composite  # noqa: E402
import spatial_ops.jax  # noqa: E402

IMPLEMENTATIONS = {"fused": spatial_ops.jax.spatial_dense, "composite": spatial_ops.composite.spatial_dense}
SIZES = list(dict.fromkeys([LAYER, LARGE]))


@functools.lru_cache(maxsize=1)
def operands(size):
    rng = np.random.default_rng(0)
    return tuple(jnp.asarray(rng.normal(size=s).astype(np.float32)) for s in (size, size[1:], size[1:], size))


def compiled(op, pass_, activation, w):
    forward = lambda x, k, b: op(x, k, b, activation=activation)  # noqa: E731
    if pass_ == "forward":
        return jax.jit(forward)
    return jax.jit(jax.grad(lambda x, k, b: jnp.sum(forward(x, k, b) * w), argnums=(0, 1, 2)))


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
@pytest.mark.parametrize("pass_", ["forward", "training step"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("size", SIZES, ids=size_id)
def test_jax(benchmark, size, activation, pass_, implementation):
    x, kernel, bias, w = operands(size)
    fn = compiled(IMPLEMENTATIONS[implementation], pass_, activation, w)
    measure(
        benchmark,
        lambda: jax.block_until_ready(fn(x, kernel, bias)),
        group=f"jax {size_id(size)} {activation} {pass_}",
        backend="jax",
        peer=f"{implementation}, jax.jit",
    )


@pytest.mark.parametrize("implementation", list(IMPLEMENTATIONS))
def test_jax_overhead_per_call(benchmark, implementation):
    tiny = [jnp.ones(s, jnp.float32) for s in ((1, 4, 4), (4, 4), (4, 4))]
    op = IMPLEMENTATIONS[implementation]
    call = jax.jit(lambda x, k, b: op(x, k, b, activation="relu"))
    measure(
        benchmark,
        lambda: jax.block_until_ready(call(*tiny)),
        group="jax overhead per call 1x4x4",
        count_faults=False,
        backend="jax",
        peer=f"{implementation}, jax.jit",
    )
