#!/usr/bin/env bash
# Everything that needs a GPU, in one command, on a machine with an NVIDIA
# GPU, nvcc, CMake, pybind11, pytest and PyTorch (CuPy optional) but no
# TensorFlow: builds the CUDA kernels and spatial_ops._core without TensorFlow
# (build_core.sh), runs tests/gpu, runs the kernel tests once under
# compute-sanitizer's memcheck and racecheck, then the benchmark. Each step's
# output and a summary of exit codes go to the results folder.
#
#   bash scripts/gpu/run_on_gpu.sh [RESULTS] [STEP ...]
#     RESULTS  folder for the results (build/gpu-results)
#     STEP     any of: test memcheck racecheck bench (default: all, in order);
#              the build always runs first and is incremental
#   PYTHON     interpreter with PyTorch and pytest (python3)
#   SPATIAL_OPS_WHEELHOUSE  folder of wheels to install pytest from when it is missing
set -uo pipefail
cd "$(dirname "$0")/../.."
results="${1:-build/gpu-results}"
shift || true
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(test memcheck racecheck bench)
python="${PYTHON:-python3}"
mkdir -p "$results"
summary="$results/summary.txt"

if ! "$python" -m pytest --version >/dev/null 2>&1 && [ -n "${SPATIAL_OPS_WHEELHOUSE:-}" ]; then
  "$python" -m pip install -q --no-index --find-links "$SPATIAL_OPS_WHEELHOUSE" pytest
fi
nvidia-smi > "$results/build.txt" 2>&1
core="$(bash scripts/gpu/build_core.sh 2>> "$results/build.txt")"
status=$?
echo "build: exit $status ($core)" | tee -a "$summary"
[ $status -eq 0 ] || exit $status
export SPATIAL_OPS_CORE="$core"

# PyTorch's caching allocator hides out-of-bounds accesses inside its blocks
# from memcheck: under the sanitizers every tensor gets its own allocation.
sanitize() {
  SPATIAL_OPS_GPU_SANITIZER=1 PYTORCH_NO_CUDA_MEMORY_CACHING=1 \
    compute-sanitizer --tool "$1" --error-exitcode 99 --print-limit 20 \
    "$python" -m pytest tests/gpu/test_cuda_kernels.py -p no:cacheprovider -q -m "not slow"
}

for step in "${steps[@]}"; do
  case "$step" in
    test) "$python" -m pytest tests/gpu -p no:cacheprovider -q -rs > "$results/test.txt" 2>&1 ;;
    memcheck | racecheck) sanitize "$step" > "$results/$step.txt" 2>&1 ;;
    bench) "$python" benchmarks/gpu/bench_gpu.py --core "$core" --out "$results" > "$results/bench.txt" 2>&1 ;;
    *) echo "unknown step '$step'" >&2; exit 2 ;;
  esac
  status=$?
  echo "$step: exit $status ($(tail -n 1 "$results/$step.txt"))" | tee -a "$summary"
done
