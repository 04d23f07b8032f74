#!/usr/bin/env bash
# Builds spatial_ops with its CUDA kernels against the CUDA build of
# TensorFlow (the `tensorflow` distribution, not tensorflow-cpu), here,
# without a GPU, and checks what a GPU user's install would hold: the op
# library compiles, links and loads, its stamp says it has GPU kernels and
# the XLA GPU lowering, TensorFlow lists CPU and GPU kernels for both ops and
# XLA CPU and GPU JIT lowerings, and the library carries the CUDA FFI handlers.
#
#   scripts/tf_cuda_build.sh [--any-nvcc]
#
# The CUDA code must be compiled by the CUDA major version TensorFlow was
# built with (tf.sysconfig.get_build_info()["cuda_version"]), so that a driver
# that runs TensorFlow runs spatial_ops: nvcc is taken from $CUDACXX, PATH or
# /usr/local/cuda-<major>*, and the script stops if none of that major is
# found. (PyPI's nvidia-cuda-nvcc-cu12, which tensorflow[and-cuda] installs,
# ships ptxas but no nvcc.) --any-nvcc builds with whatever nvcc there is, as
# a check of the build only: such a library needs a driver for that nvcc's
# CUDA major.
#
# Environment: a virtual environment with TENSORFLOW_PIN (default
# tensorflow==2.21.0) and the build's requirements in SPATIAL_OPS_TF_CUDA_DIR
# (default build/tf-cuda), reused by later runs, as is the CMake build.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${SPATIAL_OPS_TF_CUDA_DIR:-$ROOT/build/tf-cuda}"
TENSORFLOW_PIN="${TENSORFLOW_PIN:-tensorflow==2.21.0}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
any_nvcc=0
for arg in "$@"; do
  case "$arg" in
    --any-nvcc) any_nvcc=1 ;;
    *) echo "usage: $0 [--any-nvcc]" >&2; exit 2 ;;
  esac
done

start=$SECONDS
mkdir -p "$DIR"
[ -x "$DIR/venv/bin/python" ] || python3 -m venv "$DIR/venv"
python="$DIR/venv/bin/python"
# The build's requirements as requirements.txt (and the file it includes)
# pins them; the TensorFlow is the CUDA one.
pins() { cat "$ROOT/requirements.txt" "$ROOT/requirements-without-tf.txt" | grep -E "^($(IFS='|'; echo "$*"))=="; }
"$python" -m pip install -q --upgrade pip
"$python" -m pip install -q "$TENSORFLOW_PIN" $(pins keras pybind11 pytest) \
  "setuptools>=77" wheel "cmake>=3.18" ninja "packaging>=22"

cuda_major="$("$python" -c 'import tensorflow as tf; print(tf.sysconfig.get_build_info()["cuda_version"].split(".")[0])' 2>/dev/null)"
nvcc_major() { "$1" --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p'; }
nvcc=""
for candidate in "${CUDACXX:-}" "$(command -v nvcc || true)" /usr/local/cuda-"$cuda_major"*/bin/nvcc; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(nvcc_major "$candidate")" = "$cuda_major" ]; then
    nvcc="$candidate"
    break
  fi
done
if [ -z "$nvcc" ]; then
  found="$(command -v nvcc || true)"
  if [ "$any_nvcc" = 1 ] && [ -n "$found" ]; then
    nvcc="$found"
    echo "NOTE: TensorFlow was built with CUDA $cuda_major; building with $nvcc (CUDA $(nvcc_major "$nvcc")) as" \
         "a build check only (--any-nvcc): this library needs a driver for CUDA $(nvcc_major "$nvcc")." >&2
  else
    echo "No nvcc of CUDA $cuda_major (the CUDA TensorFlow's) in \$CUDACXX, PATH or /usr/local/cuda-$cuda_major*." \
         "Install that CUDA toolkit, or run with --any-nvcc for a build check with ${found:-no nvcc}." >&2
    exit 1
  fi
fi

echo "== building against $("$python" -c 'import tensorflow as tf; print(tf.__version__)' 2>/dev/null)" \
     "(CUDA $cuda_major) with $nvcc"
# A copy of the tracked sources, so that the build folder of this run is its own.
mkdir -p "$DIR/src"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard | (cd "$ROOT" && xargs -0 tar -cf -) | tar -xf - -C "$DIR/src"
# A build check (--any-nvcc) compiles for one GPU architecture and one CPU
# build of the kernels only.
archs=""
[ "$any_nvcc" = 0 ] || archs="-DSPATIAL_OPS_CUDA_ARCHITECTURES=90 -DSPATIAL_OPS_CPU_BUILDS=baseline"
(cd "$DIR/src" && SPATIAL_OPS_WITH_JAX=0 CMAKE_ARGS="-DSPATIAL_OPS_CUDA=ON -DCMAKE_CUDA_COMPILER=$nvcc $archs" \
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
  "$python" -m pip install -q --no-deps --no-build-isolation --force-reinstall .)
built=$SECONDS

echo "== checking the installed library"
(cd "$DIR" && KERAS_BACKEND=tensorflow "$python" "$ROOT/scripts/check_tf_cuda_build.py")
echo "== done: installed and built in $((built - start)) s, checked in $((SECONDS - built)) s"
