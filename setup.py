"""Builds the op library and the pybind11 module with CMake (pybind11's
cmake_example layout) against the TensorFlow of the environment being
installed into, and pins that TensorFlow in the wheel's metadata."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent
# The TensorFlow releases this source tree is known to build and pass its tests
# against (scripts/tf_matrix.sh): pyproject.toml's [tool.spatial_ops] table.
SUPPORTED_TENSORFLOW = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["spatial_ops"]["tensorflow"]

# Printed as JSON by the interpreter that owns the target TensorFlow.
_DESCRIBE_TENSORFLOW = r"""
import json, sys
from importlib import metadata
import tensorflow as tf
dists = metadata.packages_distributions().get("tensorflow", ["tensorflow"])
print(json.dumps({
    "python": sys.executable,
    "version": tf.__version__,
    "distribution": dists[0],
    "compile_flags": tf.sysconfig.get_compile_flags(),
    "link_flags": tf.sysconfig.get_link_flags(),
    "cxx11_abi": tf.sysconfig.CXX11_ABI_FLAG,
}))
"""


def _pip_parent_python():
    """The interpreter that runs pip, seen from the build backend (Linux).

    pip builds in an isolated environment whose interpreter does not see the
    target's site-packages; the process that launched the backend is the
    target's own interpreter, named by its argv[0].
    """
    proc = Path(f"/proc/{os.getppid()}")
    try:
        argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
        cwd = os.readlink(proc / "cwd")
        environ = dict(
            entry.split("=", 1)
            for entry in (proc / "environ").read_bytes().decode(errors="replace").split("\0")
            if "=" in entry
        )
    except OSError:
        return None
    if "/" in argv0:
        return os.path.join(cwd, argv0)
    return shutil.which(argv0, path=environ.get("PATH"))


def describe_tensorflow():
    candidates = [os.environ.get("SPATIAL_OPS_TF_PYTHON"), sys.executable, _pip_parent_python()]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for python in filter(None, candidates):
        result = subprocess.run([python, "-c", _DESCRIBE_TENSORFLOW], env=env,
                                capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return json.loads(result.stdout.strip().splitlines()[-1])
    sys.exit(
        "spatial_ops builds against the TensorFlow of the environment it is installed into, "
        "and found none. Install it first (pip install tensorflow-cpu==2.21.0), then "
        "pip install . (or set SPATIAL_OPS_TF_PYTHON to the interpreter that has TensorFlow)."
    )


def check_supported(tensorflow):
    """Refuses a TensorFlow outside the tested range, unless asked to try one."""
    if os.environ.get("SPATIAL_OPS_ALLOW_UNSUPPORTED_TF") == "1":
        return
    if Version(tensorflow["version"]) not in SpecifierSet(SUPPORTED_TENSORFLOW):
        sys.exit(
            f"spatial_ops supports TensorFlow {SUPPORTED_TENSORFLOW} (pyproject.toml), but "
            f"{tensorflow['python']} has TensorFlow {tensorflow['version']}. Install a supported "
            "release (pip install tensorflow-cpu==2.21.0), or set SPATIAL_OPS_ALLOW_UNSUPPORTED_TF=1 "
            "to try this one anyway (and scripts/tf_matrix.sh to test it)."
        )


TENSORFLOW = describe_tensorflow()
check_supported(TENSORFLOW)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        package_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_dir.mkdir(parents=True, exist_ok=True)
        import pybind11

        ninja = shutil.which("ninja")
        # Named explicitly: an isolated build's ninja lives in a temporary
        # environment, and the CMake cache of an earlier build must not keep
        # pointing at one that is gone.
        generator = ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"] if ninja else ["-G", "Unix Makefiles"]
        configure = [
            "cmake", str(ROOT), *generator,
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={package_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DTF_COMPILE_FLAGS={';'.join(TENSORFLOW['compile_flags'])}",
            f"-DTF_LINK_FLAGS={';'.join(TENSORFLOW['link_flags'])}",
            f"-DTF_VERSION={TENSORFLOW['version']}",
            f"-DCMAKE_BUILD_TYPE={os.environ.get('SPATIAL_OPS_BUILD_TYPE', 'Release')}",
        ] + os.environ.get("SPATIAL_OPS_CMAKE_ARGS", "").split()
        subprocess.run(configure, cwd=build_dir, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run(["cmake", "--build", ".", "--parallel", jobs], cwd=build_dir, check=True)
        self._write_build_info(package_dir)

    @staticmethod
    def _write_build_info(package_dir):
        info = {key: TENSORFLOW[key] for key in ("version", "distribution", "cxx11_abi")}
        (package_dir / "_build_info.py").write_text(
            '"""Written by setup.py: the TensorFlow this build of spatial_ops is for."""\n'
            f"TF_VERSION = {info['version']!r}\n"
            f"TF_DISTRIBUTION = {info['distribution']!r}\n"
            f"CXX11_ABI = {info['cxx11_abi']!r}\n"
            "# The checkout it was built from: the loader's rebuild command names it.\n"
            f"SOURCE_DIR = {str(ROOT)!r}\n"
        )


setup(
    ext_modules=[CMakeExtension("spatial_ops._core")],
    cmdclass={"build_ext": CMakeBuild},
    # A build is valid for exactly the TensorFlow it was compiled against.
    install_requires=[f"{TENSORFLOW['distribution']}=={TENSORFLOW['version']}"],
)
