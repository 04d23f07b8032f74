"""The layers as a Keras user meets them on each Keras backend with a
front-end (TensorFlow, JAX, PyTorch; those installed), each in a fresh process (Keras fixes its
backend at import): Keras' layer battery for every class, fused and
composite; fit that moves the weights, fused like the composite, in float32
and both mixed-precision policies; and .keras files saved on each backend
read on the others with the same outputs (tests/helpers/layer_battery.py)."""

import importlib.util
import os

from helpers.processes import run_python

# Those installed: the GPU machines have no TensorFlow.
BACKENDS = tuple(name for name in ("jax", "torch", "tensorflow") if importlib.util.find_spec(name))
BATTERY = "from helpers.layer_battery import main; main()"


def _env(backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_USE_LEGACY_KERAS", None)
    return env


def test_every_backend_runs_the_battery_and_reads_the_others_files(rng, tmp_path):
    seed = int(rng.integers(2**31))
    for backend in BACKENDS:
        assert run_python(BATTERY, tmp_path, seed, env=_env(backend), timeout=900).split()[-2:] == ["ok", backend]
    # The first backend reads the files written after it.
    assert run_python(BATTERY, tmp_path, seed, "read", env=_env(BACKENDS[0])).split()[-2:] == ["ok", BACKENDS[0]]
