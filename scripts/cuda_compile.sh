#!/usr/bin/env bash
# CI (no GPU, but nvcc): compiles every CUDA source for the default
# architectures, so a CUDA build break fails CI: the kernels (csrc/cuda), the
# GPU OpKernels against the installed TensorFlow's headers, the pybind11
# binding's device-array path (compiled only), the JAX handler library
# with its CUDA handlers (compiled and linked). Not the PyTorch CUDA
# operators (csrc/torch/cuda_operators.cc): the pinned CPU PyTorch's c10/cuda
# headers lack a generated header they include, and a CUDA PyTorch wheel
# (several GB) is more than a compile check is worth here. They are built
# where the library is built with the CUDA kernels against a CUDA PyTorch.
# Needs .venv (scripts/setup.sh) and nvcc on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${SPATIAL_OPS_CUDA_CHECK_DIR:-build/cuda-check}"
python=.venv/bin/python
tf_flags() {
  TF_CPP_MIN_LOG_LEVEL=3 "$python" -c \
    "import sys, tensorflow as tf; print(';'.join(getattr(tf.sysconfig, sys.argv[1])()))" "$1"
}
tf_version="$(TF_CPP_MIN_LOG_LEVEL=3 "$python" -c 'import tensorflow as tf; print(tf.__version__)')"
cmake -S . -B "$build" -G Ninja -DSPATIAL_OPS_CUDA=ON -DSPATIAL_OPS_WITH_TF=ON \
  "-DTF_COMPILE_FLAGS=$(tf_flags get_compile_flags)" "-DTF_LINK_FLAGS=$(tf_flags get_link_flags)" \
  "-DTF_VERSION=$tf_version" "-Dpybind11_DIR=$("$python" -m pybind11 --cmakedir)" \
  "-DPython_EXECUTABLE=$PWD/$python" \
  "-DJAX_FFI_INCLUDE_DIR=$("$python" -c 'import jax.ffi; print(jax.ffi.include_dir())')"
cmake --build "$build" --parallel "$(nproc)" --target \
  spatial_ops_cuda spatial_ops_tf_gpu_kernels _spatial_ops_jax \
  CMakeFiles/_core.dir/csrc/python/module.cc.o CMakeFiles/_core.dir/csrc/python/array_args.cc.o
