"""Runs Python code in a fresh interpreter, for what must hold in a new
process: TensorFlow settings fixed at start, saved models loaded cold, the
workers of a multi-process job."""

import subprocess
import sys
from pathlib import Path

# The child starts here, not at the repository root, so that `import
# spatial_ops` finds the installed package rather than the source checkout.
_START_DIR = Path(__file__).parent


def run_python(code, *args, env=None, timeout=120):
    """stdout of `python -c code args...`; a failure shows the child's stderr."""
    result = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env, cwd=_START_DIR,
                            capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"child exited with {result.returncode}:\n{result.stderr[-4000:]}")
    return result.stdout
