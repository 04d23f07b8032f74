"""Runs Python code in a fresh interpreter, for what must hold in a new
process: TensorFlow settings and the Keras backend fixed at start, saved
models loaded cold, the workers of a multi-process job."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

# The child starts in tests/, not at the repository root, so that `import
# spatial_ops` finds the installed package rather than the source checkout,
# and `from helpers import ...` works in its code as in the tests'.
_START_DIR = Path(__file__).parents[1]


def run_python(code, *args, env=None, timeout=120):
    """stdout of `python -c code args...`; a failure shows the child's stderr."""
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        env=env,
        cwd=_START_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise AssertionError(f"child exited with {result.returncode}:\n{result.stderr[-4000:]}")
    return result.stdout


def env_with_another_keras_backend(**variables):
    """os.environ (plus variables) for a child whose Keras backend is not
    TensorFlow: Keras' numpy backend, the lightest. It imports jax."""
    assert importlib.util.find_spec("jax") is not None, (
        "Keras' numpy backend imports jax, which is not installed: pip install jax[cpu]"
    )
    env = dict(os.environ, KERAS_BACKEND="numpy", TF_CPP_MIN_LOG_LEVEL="3", **variables)
    env.pop("TF_USE_LEGACY_KERAS", None)
    return env
