#!/usr/bin/env bash
# What CI runs (.ci/run): set up from scratch, run the README's test command,
# then the CUDA compile check, the build against the CUDA TensorFlow, the
# oldest supported TensorFlow, the sanitizers, and the benchmark suites in
# smoke mode (tiny sizes, one round: they must run, speed is not judged).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
bash scripts/setup.sh
.venv/bin/pytest tests
bash scripts/cuda_compile.sh   # no GPU here, but a CUDA build break must fail CI
# The CUDA TensorFlow: build with CUDA (this machine's nvcc, whatever its
# major: a build check), load, GPU kernels and XLA GPU lowerings listed.
bash scripts/tf_cuda_build.sh --any-nvcc
# The oldest supported TensorFlow (the newest is the run above): build, quick
# subset, and refusal of a build made for another release.
bash scripts/tf_matrix.sh --quick 2.16
# ASan + UBSan builds of the op library and the binding; any finding fails.
bash scripts/sanitize.sh
SPATIAL_OPS_BENCH_QUICK=1 .venv/bin/pytest benchmarks --benchmark-disable -q
