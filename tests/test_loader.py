"""The loader's ImportErrors: a missing build, a build for another TensorFlow,
a corrupt library. Each case is a copy of the installed package, damaged on
purpose and imported in a fresh process."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import spatial_ops

INSTALLED = Path(spatial_ops.__file__).parent


def import_error_of(package_dir):
    env = dict(os.environ, PYTHONPATH=str(package_dir.parent), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", "import spatial_ops"], env=env, capture_output=True, text=True,
        timeout=120, cwd=package_dir.parent)
    assert result.returncode != 0, "import succeeded"
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture
def package(tmp_path):
    copy = tmp_path / "spatial_ops"
    shutil.copytree(INSTALLED, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_unbuilt_checkout(package):
    (package / "_build_info.py").unlink()
    message = import_error_of(package)
    assert message.startswith("ImportError: spatial_ops is not built") and "pip install" in message


def test_built_for_another_tensorflow(package):
    info = package / "_build_info.py"
    info.write_text(info.read_text().replace("TF_VERSION = ", "TF_VERSION = '2.0.0' or "))
    message = import_error_of(package)
    assert "built for TensorFlow 2.0.0" in message and "pip install" in message


def test_library_missing(package):
    (package / "_spatial_ops_tf.so").unlink()
    assert "_spatial_ops_tf.so is missing" in import_error_of(package)


def test_library_corrupt(package):
    (package / "_spatial_ops_tf.so").write_bytes(b"not a shared object")
    message = import_error_of(package)
    assert "corrupt" in message and "pip install" in message
