"""The loader's ImportErrors: a missing build, a build without TensorFlow or
for another TensorFlow release or C++ ABI (told by _build_info.py or by the
stamp compiled into the library), a missing or corrupt library. Each case
is a copy of the installed package, damaged on purpose and imported in a
fresh process. (scripts/tf_matrix.sh also shows each TensorFlow a real
build for another.)"""

import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import tensorflow as tf
from packaging.version import Version

import spatial_ops
from spatial_ops.tensorflow import _loader
from spatial_ops.tensorflow._loader import BUILD_STAMP, FEATURES, format_build_stamp

pytestmark = pytest.mark.quick

INSTALLED = Path(spatial_ops.__file__).parent
RUNNING_ABI = int(tf.sysconfig.CXX11_ABI_FLAG)


def import_error_of(package_dir):
    env = dict(os.environ, PYTHONPATH=str(package_dir.parent), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", "import spatial_ops"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=package_dir.parent,
    )
    assert result.returncode != 0, "import succeeded"
    return result.stderr.strip().splitlines()[-1]


def rebuild_command_in(message):
    """The loader's rebuild command names this interpreter and the checkout."""
    source = spatial_ops._build_info.SOURCE_DIR
    expected = f"{sys.executable} -m pip install --no-deps --force-reinstall"
    if (Path(source) / "setup.py").is_file():
        expected += f" {source}"
    return expected in message


def restamp(library, version=None, cxx11_abi=None):
    """Rewrites the build stamp in the library file (same length, in place)."""
    data = library.read_bytes()
    match = BUILD_STAMP.search(data)
    assert match is not None, "the installed library carries no build stamp"
    new_version = version or match[1].decode()
    assert len(new_version) == len(match[1]), "the stamp is rewritten in place"
    stamp = format_build_stamp(
        new_version, int(match[2]) if cxx11_abi is None else cxx11_abi, _loader.stamped_features(match)
    )
    assert len(stamp) == match.end() - match.start()
    start, end = match.span()
    library.write_bytes(data[:start] + stamp + data[end:])


def same_length_other_version():
    """A release that is not the running one, as long as its version string."""
    return re.sub(r"\d", "9", tf.__version__)


@pytest.fixture
def package(tmp_path):
    copy = tmp_path / "spatial_ops"
    shutil.copytree(INSTALLED, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_stamp_reads_back_as_written():
    match = BUILD_STAMP.fullmatch(format_build_stamp("2.21.0rc1", 0, {"xla_lowering", "xla_gpu"}))
    assert match is not None and (match[1], match[2]) == (b"2.21.0rc1", b"0")
    assert dict(zip(FEATURES, match.groups()[2:])) == {"xla_lowering": b"1", "gpu_kernels": b"0", "xla_gpu": b"1"}


def test_installed_library_states_its_features():
    """This build: the XLA lowering where the TensorFlow allows it, GPU kernels
    and the XLA GPU lowering only in a build with CUDA for a CUDA TensorFlow."""
    _, features = _loader._read_stamp(INSTALLED / "_spatial_ops_tf.so")
    cuda_tensorflow = tf.sysconfig.get_build_info().get("is_cuda_build", False)
    assert ("xla_gpu" in features) <= ("gpu_kernels" in features) <= cuda_tensorflow
    assert ("xla_gpu" in features) <= ("xla_lowering" in features)
    if Version(tf.__version__) >= Version("2.20"):
        assert "xla_lowering" in features


@pytest.mark.parametrize("features,warns", [(set(), True), ({"gpu_kernels"}, False)], ids=["cpu only", "gpu"])
def test_a_visible_gpu_without_gpu_kernels_is_named_with_the_rebuild(monkeypatch, features, warns):
    monkeypatch.setattr(
        _loader.tf.config,
        "list_physical_devices",
        lambda kind=None: ["/physical_device:GPU:0"] if kind == "GPU" else [],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _loader._warn_if_a_gpu_goes_unused(features, "REBUILD-COMMAND")
    messages = [str(w.message) for w in caught]
    assert (len(messages) == 1 and "no GPU kernels" in messages[0] and "REBUILD-COMMAND" in messages[0]) == warns
    assert warns or not messages


def test_installed_library_is_stamped_with_the_running_tensorflow():
    match = BUILD_STAMP.search((INSTALLED / "_spatial_ops_tf.so").read_bytes())
    assert match is not None
    assert (match[1].decode(), int(match[2])) == (tf.__version__, RUNNING_ABI)
    info = spatial_ops._build_info
    assert (info.TF_VERSION, int(info.CXX11_ABI)) == (tf.__version__, RUNNING_ABI)


def test_installed_library_names_tensorflow_framework_as_needed():
    # Without the NEEDED entry, TensorFlow 2.16 to 2.18 cannot resolve the op
    # library's symbols (undefined symbol: typeinfo for tensorflow::OpKernel).
    framework = [flag[len("-l:") :] for flag in tf.sysconfig.get_link_flags() if flag.startswith("-l:")]
    dynamic = subprocess.run(
        ["readelf", "--dynamic", str(INSTALLED / "_spatial_ops_tf.so")], capture_output=True, text=True, check=True
    ).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic)
    assert framework and set(framework) <= set(needed), (framework, needed)


def test_unbuilt_checkout(package):
    (package / "_build_info.py").unlink()
    message = import_error_of(package)
    assert message.startswith("ImportError: spatial_ops is not built") and "pip install" in message


def test_built_without_tensorflow(package):
    info = package / "_build_info.py"
    info.write_text(info.read_text().replace("TF_VERSION = ", "TF_VERSION = None  # was "))
    message = import_error_of(package)
    assert "built without its TensorFlow op library" in message and f"TensorFlow {tf.__version__} " in message
    assert rebuild_command_in(message)


def test_built_for_another_tensorflow(package):
    info = package / "_build_info.py"
    info.write_text(info.read_text().replace("TF_VERSION = ", "TF_VERSION = '2.0.0' or "))
    message = import_error_of(package)
    assert f"built for TensorFlow 2.0.0 (C++ ABI _GLIBCXX_USE_CXX11_ABI={RUNNING_ABI})" in message
    assert f"but TensorFlow {tf.__version__} " in message and rebuild_command_in(message)


def test_built_for_another_cxx_abi(package):
    info = package / "_build_info.py"
    info.write_text(info.read_text().replace("CXX11_ABI = ", f"CXX11_ABI = {1 - RUNNING_ABI}  # was "))
    message = import_error_of(package)
    assert f"built for TensorFlow {tf.__version__} (C++ ABI _GLIBCXX_USE_CXX11_ABI={1 - RUNNING_ABI})" in message
    assert f"_GLIBCXX_USE_CXX11_ABI={RUNNING_ABI}) is installed" in message and rebuild_command_in(message)


def test_library_copied_from_a_build_for_another_tensorflow(package):
    other = same_length_other_version()
    restamp(package / "_spatial_ops_tf.so", version=other)
    message = import_error_of(package)
    assert f"built for TensorFlow {other} " in message and "stamp compiled into _spatial_ops_tf.so" in message
    assert rebuild_command_in(message)


def test_library_copied_from_a_build_for_another_cxx_abi(package):
    restamp(package / "_spatial_ops_tf.so", cxx11_abi=1 - RUNNING_ABI)
    message = import_error_of(package)
    assert f"_GLIBCXX_USE_CXX11_ABI={1 - RUNNING_ABI}) (the stamp compiled into" in message
    assert rebuild_command_in(message)


def test_library_missing(package):
    (package / "_spatial_ops_tf.so").unlink()
    assert "_spatial_ops_tf.so is missing" in import_error_of(package)


def test_library_corrupt(package):
    (package / "_spatial_ops_tf.so").write_bytes(b"not a shared object")
    message = import_error_of(package)
    assert "corrupt" in message and rebuild_command_in(message)


def test_stamped_library_that_fails_to_load(package):
    library = package / "_spatial_ops_tf.so"
    library.write_bytes(BUILD_STAMP.search(library.read_bytes())[0])
    message = import_error_of(package)
    assert "loading" in message and "failed" in message and rebuild_command_in(message)
