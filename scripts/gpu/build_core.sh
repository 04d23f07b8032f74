#!/usr/bin/env bash
# Builds the CUDA kernels and the pybind11 module spatial_ops._core without
# TensorFlow (SPATIAL_OPS_WITH_TF=OFF), for a machine with a GPU, nvcc, CMake
# and pybind11 but no TensorFlow, and prints the module's path.
#   PYTHON                          interpreter to build for (python3)
#   SPATIAL_OPS_GPU_BUILD_DIR       build folder (build/gpu)
#   SPATIAL_OPS_CUDA_ARCHITECTURES  compute capabilities (this GPU's, else CMake's default)
set -euo pipefail
cd "$(dirname "$0")/../.."
build="${SPATIAL_OPS_GPU_BUILD_DIR:-build/gpu}"
python="$(command -v "${PYTHON:-python3}")"
archs="${SPATIAL_OPS_CUDA_ARCHITECTURES:-}"
if [ -z "$archs" ] && command -v nvidia-smi >/dev/null; then
  archs="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '. ')"
fi
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S . -B "$build" "${generator[@]}" -DSPATIAL_OPS_WITH_TF=OFF -DSPATIAL_OPS_CUDA=ON \
  ${archs:+"-DSPATIAL_OPS_CUDA_ARCHITECTURES=$archs"} \
  "-Dpybind11_DIR=$("$python" -m pybind11 --cmakedir)" "-DPython_EXECUTABLE=$python" >&2
cmake --build "$build" --parallel "$(nproc)" --target _core >&2
ls "$(cd "$build" && pwd)"/_core*.so
