#!/usr/bin/env bash
# Everything that needs a GPU, in one command, on a bare GPU machine: Python
# with PyTorch, JAX, pybind11, pytest, nvcc, CMake, ninja and
# compute-sanitizer, but no TensorFlow, no Keras and no network. Keras comes
# as wheels carried in build/gpu-wheels (scripts/gpu/carried_wheels.sh).
#
#   bash scripts/gpu/run_on_gpu.sh [--dry-run] [RESULTS] [STEP ...]
#     RESULTS  folder for logs and results (build/gpu-results)
#     STEP     any of: build test memcheck racecheck bench (default: all, in order;
#              a later step without build uses the last build)
#     --dry-run  CI, on a machine without a GPU: the same build (the CUDA code
#              compiled, and the PyTorch CUDA operators syntax-checked, which a
#              CPU PyTorch cannot build), the carried set assembled and measured,
#              each test of the suites once and the benchmark run on the CPU, the
#              sanitizers skipped.
#   PYTHON     the interpreter with PyTorch and JAX (python3); for the dry run,
#              a virtual environment of requirements-without-tf.txt is made instead
#
# build: spatial_ops with its CUDA kernels (_core, the JAX handler library, the
#   PyTorch operator library) and Keras, installed into build/gpu-site, which
#   every later step puts first on PYTHONPATH.
# test: the JAX and PyTorch suites and tests/gpu, with every front-end test on
#   the device (SPATIAL_OPS_TEST_DEVICE=cuda).
# memcheck, racecheck: compute-sanitizer over the kernel tests (and, for
#   memcheck, a sample of the PyTorch operators').
# bench: benchmarks/gpu/bench_gpu.py, its table and JSON in RESULTS.
# Each step's output goes to RESULTS/<step>.txt, its exit code to RESULTS/summary.txt;
# the exit code is the first failure's.
set -uo pipefail
cd "$(dirname "$0")/../.."
dry_run=0
if [ "${1:-}" = --dry-run ]; then dry_run=1; shift; fi
results="${1:-build/gpu-results}"
shift || true
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(build test memcheck racecheck bench)
mkdir -p "$results"
results="$(cd "$results" && pwd)"
summary="$results/summary.txt"
site="$PWD/build/gpu-site"
wheels="$PWD/build/gpu-wheels"

# The suites that run without TensorFlow; every front-end test among them
# takes its device from the `device` fixture (tests/conftest.py).
SUITES=(tests/test_jax.py tests/test_jax_sharding.py tests/test_torch.py tests/test_torch_operators.py
        tests/test_torch_export.py tests/test_torch_distributed.py tests/test_layers_on_every_backend.py tests/gpu)
# What runs under compute-sanitizer, where every launch is slow: memcheck
# over the kernel tests (a sample of the activations,
# SPATIAL_OPS_GPU_SANITIZER=1) and the PyTorch operators' values and
# gradients for relu and gelu in float32; racecheck, whose hazards live in
# the kernels' shared memory, over the kernel tests alone.
KERNEL_TESTS=(tests/gpu/test_cuda_kernels.py -m "not slow")
SANITIZED_memcheck=("${KERNEL_TESTS[@]}" "tests/test_torch.py::TestTorchValues::test_every_activation_reduction_dtype"
                    -k "test_cuda_kernels or (float32 and (relu- or gelu-))")
SANITIZED_racecheck=("${KERNEL_TESTS[@]}")

if [ $dry_run -eq 1 ]; then
  device=cpu
  venv="$PWD/build/venv-without-tf"
  python="$venv/bin/python"
  # Every case runs in CI's full suite (with TensorFlow); here each test
  # function runs once, proving it runs without TensorFlow. One CUDA
  # architecture and one CPU build of the kernels prove the code compiles.
  test_scope=(--each-test-once)
  archs=90
  cpu_builds=baseline
else
  test_scope=()
  archs=""
  cpu_builds=""
  device=cuda
  python="${PYTHON:-python3}"
fi
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
# JAX would take 75% of the GPU's memory at its first call; PyTorch shares it.
export XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=2
# Keras' default backend is TensorFlow, which is not there; tests that need
# another backend name it.
export KERAS_BACKEND="${KERAS_BACKEND:-jax}"
export SPATIAL_OPS_TEST_DEVICE="$device"

build() {
  if [ $dry_run -eq 1 ]; then
    [ -x "$python" ] || python3 -m venv "$venv"
    "$python" -m pip install -q -r requirements-without-tf.txt
    bash scripts/gpu/carried_wheels.sh "$python"
  else
    nvidia-smi
    "$python" -m pip install -q --no-index --no-deps --target "$site" "$wheels"/*.whl
  fi
  if "$python" -c "import tensorflow" 2>/dev/null; then
    echo "this environment has TensorFlow; the GPU machines have none, so neither may this build"; return 1
  fi
  if command -v nvidia-smi >/dev/null && nvidia-smi >/dev/null 2>&1; then
    archs="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '. ')"
  fi
  SPATIAL_OPS_WITH_TF=0 SPATIAL_OPS_WITH_JAX=1 SPATIAL_OPS_WITH_TORCH=1 \
    SPATIAL_OPS_BUILD_DIR="$PWD/build/gpu-cmake" \
    CMAKE_ARGS="-DSPATIAL_OPS_CUDA=ON ${archs:+-DSPATIAL_OPS_CUDA_ARCHITECTURES=$archs} ${cpu_builds:+-DSPATIAL_OPS_CPU_BUILDS=$cpu_builds}" \
    "$python" -m pip install --no-build-isolation --no-deps --no-index --upgrade --target "$site" . || return 1
  if [ $dry_run -eq 1 ]; then
    bash scripts/gpu/check_torch_cuda_operators.sh "$python" || return 1
  fi
  # What was built, from the installed package.
  "$python" -P -c "
import spatial_ops, spatial_ops.jax, spatial_ops.torch
from spatial_ops import _build_info, _core
assert _core.built_with_cuda, 'the CUDA kernels were not built'
print('spatial_ops from', spatial_ops.__file__, '- CUDA kernels in _core; PyTorch', _build_info.TORCH_VERSION)"
}

pytest_on_device() {
  "$python" -P -m pytest -p no:cacheprovider -q -rs "$@"
}

# PyTorch's caching allocator hides out-of-bounds accesses inside its blocks
# from memcheck: under the sanitizers every tensor gets its own allocation.
sanitize() {
  local -n tests="SANITIZED_$1"
  if [ $dry_run -eq 1 ]; then
    echo "dry run: compute-sanitizer $1 needs a GPU; the tests it would run:"
    SPATIAL_OPS_GPU_SANITIZER=1 pytest_on_device --collect-only "${tests[@]}" | tail -n 1
    return
  fi
  SPATIAL_OPS_GPU_SANITIZER=1 PYTORCH_NO_CUDA_MEMORY_CACHING=1 compute-sanitizer --tool "$1" --error-exitcode 99 \
    --print-limit 20 "$python" -P -m pytest -p no:cacheprovider -q "${tests[@]}"
}

bench() {
  if [ $dry_run -eq 1 ]; then
    "$python" -P benchmarks/gpu/bench_gpu.py --device cpu --sizes 2x8x8 --repeat 1 --calls 1 \
      --overhead-calls 10 --out "$results"
  else
    "$python" -P benchmarks/gpu/bench_gpu.py --out "$results"
  fi
}

first_failure=0
: > "$summary"
for step in "${steps[@]}"; do
  start=$SECONDS
  case "$step" in
    build) build ;;
    test) pytest_on_device -n auto "${test_scope[@]}" "${SUITES[@]}" ;;
    memcheck | racecheck) sanitize "$step" ;;
    bench) bench ;;
    *) echo "unknown step '$step'" >&2; exit 2 ;;
  esac > "$results/$step.txt" 2>&1
  status=$?
  echo "$step: exit $status in $((SECONDS - start)) s ($(tail -n 1 "$results/$step.txt"))" | tee -a "$summary"
  [ $status -eq 0 ] || [ $first_failure -ne 0 ] || first_failure=$status
  if [ "$step" = build ] && [ $status -ne 0 ]; then tail -n 30 "$results/build.txt"; break; fi
done
exit $first_failure
