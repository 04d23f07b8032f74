"""Data parallelism on JAX over two devices of the tested kind: two host
devices (--xla_force_host_platform_device_count=2) on the CPU, two GPUs on
a GPU machine with two. In a fresh process (XLA reads the flag once): a
batch-sharded jax.jit keeps x sharded through the fused
custom calls (no all-gather in the compiled HLO; the weight gradients are
all-reduced) with the single-device results, and Keras' DataParallel
trains SpatialDense like one device."""

import os

import pytest

from helpers.processes import run_python

pytest.importorskip("jax")

SHARDED = """
import re
import sys
import numpy as np
import jax, jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec as P
import spatial_ops.jax as sjax
from spatial_ops.testing.criteria import assert_close

assert len(jax.devices()) == 2
rng = np.random.default_rng(int(sys.argv[1]))
mesh = jax.make_mesh((2,), ("batch",))
x = rng.normal(size=(8, 6, 5)).astype(np.float32)
kernel, bias = (rng.normal(size=(6, 5)).astype(np.float32) for _ in range(2))

def loss(x, kernel, bias, reduce_axis):
    y = sjax.spatial_dense(x, kernel, bias, activation="gelu", reduce_axis=reduce_axis)
    return jnp.sum(y ** 2)

for reduce_axis in (None, -1, 1):
    step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)), static_argnums=3)
    sharded = (jax.device_put(x, NamedSharding(mesh, P("batch"))),
               *(jax.device_put(w, NamedSharding(mesh, P())) for w in (kernel, bias)))
    hlo = step.lower(*sharded, reduce_axis).compile().as_text()
    assert "all-gather" not in hlo, "x was gathered"
    assert re.search(r"f32\\[4,6,5\\].*custom-call\\(.*spatial_ops_spatial_dense_grad", hlo), "no per-shard backward"
    assert "all-reduce" in hlo
    (value, grads) = step(*sharded, reduce_axis)
    assert grads[0].sharding.spec[0] == "batch", grads[0].sharding
    (want_value, want_grads) = jax.value_and_grad(loss, argnums=(0, 1, 2))(x, kernel, bias, reduce_axis)
    assert_close(value, want_value, "float32", "loss")
    for name, got, want in zip(("dx", "dkernel", "dbias"), grads, want_grads):
        assert_close(got, want, "float32", name)
print("ok")
"""

KERAS_DATA_PARALLEL = """
import sys
import numpy as np
import keras
import spatial_ops
from spatial_ops.testing.criteria import assert_close

assert keras.backend.backend() == "jax"
rng = np.random.default_rng(int(sys.argv[1]))
x = rng.normal(size=(64, 6, 5)).astype(np.float32)
targets = x[:, :3].mean(axis=(1, 2))[:, None]

def trained(distribution):
    keras.distribution.set_distribution(distribution)
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6, 5)),
                              spatial_ops.SpatialDense(activation="gelu", kernel_initializer="random_normal"),
                              spatial_ops.SpatialDense(reduce_axis=-1, reduction="mean"),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, targets, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return model.get_weights()

parallel = trained(keras.distribution.DataParallel(devices=keras.distribution.list_devices()))
single = trained(None)
for got, want in zip(parallel, single):
    assert_close(got, want, "float32", "weights after DataParallel fit")
print("ok")
"""


@pytest.fixture
def two_devices(device):
    """The environment of a child process that sees two devices of the kind tested."""
    env = dict(os.environ, KERAS_BACKEND="jax", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_USE_LEGACY_KERAS", None)
    if device == "cpu":
        return dict(env, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    gpus = int(run_python("import jax; print(len(jax.devices('gpu')))", env=env).split()[-1])
    if gpus < 2:
        pytest.skip(f"sharding over GPUs needs two; this machine has {gpus}")
    return dict(env, JAX_PLATFORMS="cuda", CUDA_VISIBLE_DEVICES="0,1")


def test_a_batch_sharded_jit_keeps_x_sharded(rng, two_devices):
    assert run_python(SHARDED, int(rng.integers(2**31)), env=two_devices).split()[-1] == "ok"


def test_keras_data_parallel_trains_like_one_device(rng, two_devices):
    assert run_python(KERAS_DATA_PARALLEL, int(rng.integers(2**31)), env=two_devices).split()[-1] == "ok"
