#!/usr/bin/env bash
# Compiles the PyTorch CUDA operators (csrc/torch/cuda_operators.cc) for a
# syntax check against PYTHON's PyTorch, on a machine whose PyTorch is a CPU
# build: those wheels lack one generated header, c10/cuda/impl/cuda_cmake_macros.h,
# which a stand-in with a CUDA build's content supplies. Nothing is linked: a
# CUDA PyTorch builds the real library (scripts/gpu/run_on_gpu.sh), and this
# catches a compile error before a GPU machine's time is spent on it.
#   bash scripts/gpu/check_torch_cuda_operators.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${1:-.venv/bin/python}"
stub="$(mktemp -d)"
trap 'rm -rf "$stub"' EXIT
mkdir -p "$stub/c10/cuda/impl"
printf '#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n' > "$stub/c10/cuda/impl/cuda_cmake_macros.h"
read -r abi includes < <("$python" -c '
import torch
from torch.utils.cpp_extension import include_paths
print(int(torch.compiled_with_cxx11_abi()), ";".join(include_paths()))')
# nvcc's own include folder, as it reports it (nvcc on PATH may be a wrapper).
cuda_include="$(nvcc -x cu -E -v /dev/null -o /dev/null 2>&1 | sed -n 's/^#\$ INCLUDES="-I\([^"]*\)".*/\1/p' | head -n 1)"
flags=(-std=c++17 -fsyntax-only "-D_GLIBCXX_USE_CXX11_ABI=$abi" -Icsrc "-I$stub" -isystem "$cuda_include")
IFS=';' read -ra dirs <<< "$includes"
for dir in "${dirs[@]}"; do flags+=(-isystem "$dir"); done
"${CXX:-g++}" "${flags[@]}" csrc/torch/cuda_operators.cc
echo "csrc/torch/cuda_operators.cc compiles against PyTorch $("$python" -c 'import torch; print(torch.__version__)')"
