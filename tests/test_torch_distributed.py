"""PyTorch's DistributedDataParallel around a Keras model with SpatialDense
layers on the torch backend: two processes (gloo on loopback) end where one
process ends on the same global batches. Needs no TensorFlow."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")

from helpers.processes import run_python  # noqa: E402

WORKER_TIMEOUT_S = 180
STEPS, GLOBAL_BATCH = 6, 16

TRAIN = r"""
import sys
import numpy as np
import torch
import keras
import spatial_ops

assert keras.backend.backend() == "torch"
data_path, out_path, rank, world = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = np.load(data_path)
torch.manual_seed(0)
model = keras.Sequential([
    keras.Input((6, 5)),
    spatial_ops.SpatialDense(activation="gelu"),
    spatial_ops.SpatialDense(activation="tanh", weight_shape=(6, 1)),
    spatial_ops.SpatialDense(reduce_axis=-1, reduction="mean"),
    keras.layers.Dense(1),
])
model.set_weights([data[f"w{i}"] for i in range(len(model.get_weights()))])
trained = model
if world > 1:
    import torch.distributed as dist
    dist.init_process_group("gloo", rank=rank, world_size=world)
    trained = torch.nn.parallel.DistributedDataParallel(model)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.from_numpy(data["x"]), torch.from_numpy(data["y"])
steps, global_batch = int(data["steps"]), int(data["global_batch"])
share = global_batch // world
for step in range(steps):
    start = step * global_batch + rank * share
    xb, yb = x[start:start + share], y[start:start + share]
    optimizer.zero_grad()
    loss = torch.mean((trained(xb) - yb) ** 2)  # DDP averages the shares' gradients: the global mean's
    loss.backward()
    optimizer.step()
if rank == 0:
    np.savez(out_path, *[np.asarray(w) for w in model.get_weights()])
if world > 1:
    dist.destroy_process_group()
print("ok")
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**variables):
    env = dict(os.environ, KERAS_BACKEND="torch", TF_CPP_MIN_LOG_LEVEL="3", **variables)
    env.pop("TF_USE_LEGACY_KERAS", None)
    return env


def _weights(path):
    with np.load(path) as saved:
        return [saved[name] for name in sorted(saved.files, key=lambda n: int(n.split("_")[1]))]


def test_distributed_data_parallel_on_two_processes_ends_where_one_process_ends(rng, tmp_path):
    x = rng.normal(size=(STEPS * GLOBAL_BATCH, 6, 5)).astype(np.float32)
    y = np.tanh(x[:, :3].mean(axis=(1, 2)))[:, None].astype(np.float32)
    shapes = [(6, 5), (6, 5), (6, 1), (6, 1), (6, 5), (6, 5), (6, 1), (1,)]
    weights = {f"w{i}": rng.normal(0, 0.5, shape).astype(np.float32) for i, shape in enumerate(shapes)}
    data = tmp_path / "data.npz"
    np.savez(data, x=x, y=y, steps=STEPS, global_batch=GLOBAL_BATCH, **weights)

    single = tmp_path / "single.npz"
    run_python(TRAIN, data, single, 0, 1, env=_env(), timeout=WORKER_TIMEOUT_S)

    distributed = tmp_path / "ddp.npz"
    env = _env(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", TRAIN, str(data), str(distributed), str(rank), "2"],
            env=env,
            cwd=os.path.dirname(__file__),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    for worker in workers:
        out, err = worker.communicate(timeout=WORKER_TIMEOUT_S)
        assert worker.returncode == 0 and out.split()[-1] == "ok", err[-4000:]

    before = [weights[f"w{i}"] for i in range(len(shapes))]
    for one, two, start in zip(_weights(single), _weights(distributed), before):
        assert not np.allclose(one, start), "training did not move the weights"
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)
