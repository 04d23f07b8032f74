"""tf.distribute: SpatialDense models train under MirroredStrategy on two
logical CPU devices and under MultiWorkerMirroredStrategy with two worker
processes on loopback, ending where a single process ends on the same
global batches."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from helpers.processes import run_python
from helpers.support import assert_close

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "distributed_training.py"
WORKER_TIMEOUT_S = 100


@pytest.fixture
def training_data(rng, tmp_path):
    """Inputs, targets and initial weights, shared by every process."""
    x = rng.normal(size=(256, 6, 5)).astype(np.float32)
    y = np.tanh(x[:, :3].mean(axis=(1, 2)))[:, None].astype(np.float32)
    shapes = [(6, 5), (6, 5), (6, 5), (6, 5), (6, 1), (1,)]
    weights = {f"w{i}": rng.normal(0, 0.5, shape).astype(np.float32) for i, shape in enumerate(shapes)}
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=y, **weights)
    return path


def _train(mode, data_path, out_path):
    run_python(SCRIPT.read_text(), mode, data_path, out_path, timeout=WORKER_TIMEOUT_S)
    return _weights(out_path)


def _weights(path):
    with np.load(path) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files) - 1)], saved["loss"]


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _assert_same_training(weights, losses, expected_weights, expected_losses):
    assert losses[-1] < losses[0]
    assert_close(losses, expected_losses, tf.float32, "losses")
    for got, want in zip(weights, expected_weights):
        assert_close(got, want, tf.float32, "weights")


def test_mirrored_strategy_on_two_cpu_devices(training_data, tmp_path):
    single = _train("single", training_data, tmp_path / "single.npz")
    mirrored = _train("mirrored", training_data, tmp_path / "mirrored.npz")
    _assert_same_training(*mirrored, *single)


def test_multi_worker_mirrored_strategy_with_two_processes(training_data, tmp_path):
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    try:
        for index in range(2):
            env = dict(
                os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            )
            workers.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        str(SCRIPT),
                        "multi_worker",
                        str(training_data),
                        str(tmp_path / f"worker{index}.npz"),
                    ],
                    env=env,
                    cwd=SCRIPT.parent,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for worker in workers:
            _, stderr = worker.communicate(timeout=WORKER_TIMEOUT_S)
            assert worker.returncode == 0, stderr[-4000:]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    chief, other = (_weights(tmp_path / f"worker{index}.npz") for index in range(2))
    for a, b in zip(chief[0], other[0]):
        np.testing.assert_array_equal(a, b)  # every worker applies the same all-reduced update
    single = _train("single", training_data, tmp_path / "single.npz")
    _assert_same_training(*chief, *single)
