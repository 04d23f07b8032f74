"""Builds spatial_ops' compiled parts with CMake (pybind11's cmake_example
layout): always the pybind11 module `_core` (the kernels, no framework), the
TensorFlow op library when the environment being installed into has
TensorFlow, whose release the wheel then pins, the JAX handler library
when it has JAX (built on JAX's XLA FFI headers, tied to no JAX release), and
the PyTorch operator library when it has PyTorch (valid for that release
only, which the library's stamp records).

Environment knobs (all optional):
  SPATIAL_OPS_WITH_TF         auto (default): the op library when TensorFlow is
                              found; 1: require it; 0: never build it
  SPATIAL_OPS_WITH_JAX        the same for the JAX handler library
  SPATIAL_OPS_WITH_TORCH      the same for the PyTorch operator library
  SPATIAL_OPS_TF_PYTHON       the interpreter whose TensorFlow (and JAX) to
                              build against (default: the one running the
                              build, with pip's isolation lifted for the question)
  SPATIAL_OPS_BUILD_DIR       CMake's build folder (default: under setuptools'
                              build/temp.*), for builds of other configurations
                              that must not share one
  CMAKE_ARGS                  extra CMake arguments, e.g. "-DSPATIAL_OPS_CUDA=OFF"
  CMAKE_BUILD_TYPE            Release (default), RelWithDebInfo, Debug, ...
  CMAKE_BUILD_PARALLEL_LEVEL  compile jobs (default: every core)
"""

import json
import os
import shlex
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


def ask_target(code):
    """What `code` prints (JSON, last line) in the target environment, or None
    when it fails there (the framework is not installed).

    pip builds in an isolated environment: the backend runs the target's own
    interpreter (sys.executable) with PYTHONPATH and PYTHONNOUSERSITE set so
    that it sees only the build requirements. Asked without them, the same
    interpreter sees the target's site-packages.
    """
    python = os.environ.get("SPATIAL_OPS_TF_PYTHON") or sys.executable
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONNOUSERSITE")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    result = subprocess.run([python, "-c", code], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def describe_tensorflow():
    """The target environment's TensorFlow, or None."""
    return ask_target(_DESCRIBE_TENSORFLOW)


def check_supported(tensorflow):
    """Refuses a TensorFlow outside the tested range, unless asked to try one."""
    if os.environ.get("SPATIAL_OPS_ALLOW_UNSUPPORTED_TF") == "1":
        return
    if Version(tensorflow["version"]) not in SpecifierSet(SUPPORTED_TENSORFLOW):
        sys.exit(
            f"spatial_ops supports TensorFlow {SUPPORTED_TENSORFLOW} (pyproject.toml), but "
            f"{tensorflow['python']} has TensorFlow {tensorflow['version']}. Install a supported "
            "release (pip install tensorflow-cpu==2.21.0), or set SPATIAL_OPS_ALLOW_UNSUPPORTED_TF=1 "
            "to try this one anyway (and scripts/tf_matrix.sh to test it), or SPATIAL_OPS_WITH_TF=0 "
            "to build without the TensorFlow op library."
        )


def find_in_target(framework, variable, describe, install, builds):
    """describe() of the target environment's framework when `variable`
    (auto, 1 or 0) wants it built for, else None; 1 requires it."""
    wanted = os.environ.get(variable, "auto").lower()
    if wanted not in ("auto", "1", "0"):
        sys.exit(f"{variable} must be auto, 1 or 0, got {wanted!r}")
    if wanted == "0":
        return None
    found = describe()
    if found is None and wanted == "1":
        sys.exit(
            f"{variable}=1, but no {framework} was found in the environment being installed into. "
            f"Install it first ({install}), or set SPATIAL_OPS_TF_PYTHON to the interpreter that has it."
        )
    if found is None:
        print(
            f"spatial_ops: no {framework} in the target environment; building without {builds} "
            f"(install {framework}, then reinstall spatial_ops, to add it)"
        )
    return found


def target_tensorflow():
    """The TensorFlow to build the op library against, or None for none."""
    tensorflow = find_in_target(
        "TensorFlow",
        "SPATIAL_OPS_WITH_TF",
        describe_tensorflow,
        "pip install tensorflow-cpu==2.21.0",
        "the TensorFlow op library",
    )
    if tensorflow is not None:
        check_supported(tensorflow)
    return tensorflow


TENSORFLOW = target_tensorflow()

_DESCRIBE_JAX = r"""
import json, sys
import jax, jax.ffi
print(json.dumps({"version": jax.__version__, "ffi_include_dir": jax.ffi.include_dir()}))
"""


def target_jax():
    """The target environment's JAX to build the handler library for, or None."""
    return find_in_target(
        "JAX",
        "SPATIAL_OPS_WITH_JAX",
        lambda: ask_target(_DESCRIBE_JAX),
        "pip install 'jax[cpu]'",
        "the JAX handler library",
    )


JAX = target_jax()

_DESCRIBE_TORCH = r"""
import json
import torch
from torch.utils import cpp_extension
print(json.dumps({"version": torch.__version__, "include_dirs": cpp_extension.include_paths(),
                  "library_dir": cpp_extension.library_paths()[0],
                  "cxx11_abi": int(torch.compiled_with_cxx11_abi()), "cuda": torch.version.cuda is not None}))
"""


def target_torch():
    """The target environment's PyTorch to build the operator library for, or None."""
    return find_in_target(
        "PyTorch",
        "SPATIAL_OPS_WITH_TORCH",
        lambda: ask_target(_DESCRIBE_TORCH),
        "pip install torch",
        "the PyTorch operator library",
    )


TORCH = target_torch()


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        package_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(os.environ.get("SPATIAL_OPS_BUILD_DIR") or Path(self.build_temp) / "cmake").resolve()
        build_dir.mkdir(parents=True, exist_ok=True)
        import pybind11

        ninja = shutil.which("ninja")
        # Named explicitly: an isolated build's ninja lives in a temporary
        # environment, and the CMake cache of an earlier build must not keep
        # pointing at one that is gone.
        generator = ["-G", "Ninja", f"-DCMAKE_MAKE_PROGRAM={ninja}"] if ninja else ["-G", "Unix Makefiles"]
        configure = [
            "cmake",
            str(ROOT),
            *generator,
            f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={package_dir}",
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
            f"-DCMAKE_BUILD_TYPE={os.environ.get('CMAKE_BUILD_TYPE', 'Release')}",
        ]
        if TENSORFLOW is None:
            configure.append("-DSPATIAL_OPS_WITH_TF=OFF")
        else:
            configure += [
                "-DSPATIAL_OPS_WITH_TF=ON",
                f"-DTF_COMPILE_FLAGS={';'.join(TENSORFLOW['compile_flags'])}",
                f"-DTF_LINK_FLAGS={';'.join(TENSORFLOW['link_flags'])}",
                f"-DTF_VERSION={TENSORFLOW['version']}",
            ]
        if JAX is not None:
            configure.append(f"-DJAX_FFI_INCLUDE_DIR={JAX['ffi_include_dir']}")
        if TORCH is None:
            configure += ["-DTORCH_INCLUDE_DIRS=", "-DTORCH_CXX11_ABI="]
        else:
            configure += [
                f"-DTORCH_INCLUDE_DIRS={';'.join(TORCH['include_dirs'])}",
                f"-DTORCH_LIBRARY_DIR={TORCH['library_dir']}",
                f"-DTORCH_VERSION={TORCH['version']}",
                f"-DTORCH_CXX11_ABI={TORCH['cxx11_abi']}",
                f"-DTORCH_CUDA={'ON' if TORCH['cuda'] else 'OFF'}",
            ]
        # Last, so that they override the defaults above.
        configure += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        subprocess.run(configure, cwd=build_dir, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        subprocess.run(["cmake", "--build", ".", "--parallel", jobs], cwd=build_dir, check=True)
        self._write_build_info(package_dir)

    @staticmethod
    def _write_build_info(package_dir):
        info = (
            {key: TENSORFLOW[key] for key in ("version", "distribution", "cxx11_abi")}
            if TENSORFLOW
            else {"version": None, "distribution": None, "cxx11_abi": None}
        )
        (package_dir / "_build_info.py").write_text(
            '"""Written by setup.py: the TensorFlow this build of spatial_ops is for\n'
            '(None: built without the TensorFlow op library)."""\n'
            f"TF_VERSION = {info['version']!r}\n"
            f"TF_DISTRIBUTION = {info['distribution']!r}\n"
            f"CXX11_ABI = {info['cxx11_abi']!r}\n"
            "# The PyTorch its operator library is for (None: built without it).\n"
            f"TORCH_VERSION = {TORCH['version'] if TORCH else None!r}\n"
            "# The checkout it was built from: the loader's rebuild command names it.\n"
            f"SOURCE_DIR = {str(ROOT)!r}\n"
        )


# An op library is valid for exactly the TensorFlow it was compiled against.
tensorflow_requirement = [] if TENSORFLOW is None else [f"{TENSORFLOW['distribution']}=={TENSORFLOW['version']}"]
setup(
    ext_modules=[CMakeExtension("spatial_ops._core")],
    cmdclass={"build_ext": CMakeBuild},
    install_requires=["numpy", "keras>=3.15"] + tensorflow_requirement,
)
