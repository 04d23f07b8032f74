#!/usr/bin/env bash
# What CI runs (.ci/run): set up from scratch, the lint and format checks
# (.pre-commit-config.yaml), the README's test command, the documentation
# build, then the GPU machine's run as a dry run, the build
# against the CUDA TensorFlow, the oldest supported TensorFlow, the
# sanitizers, and the benchmark suites in smoke mode (tiny sizes, one round:
# they must run, speed is not judged).
set -euo pipefail
cd "$(dirname "$0")/.."
export TF_CPP_MIN_LOG_LEVEL=2
started=$SECONDS
# Runs one step and says how long it took: where CI's time goes.
step() {
  local start=$SECONDS
  "$@"
  echo "ci: $((SECONDS - start)) s for: $* ($((SECONDS - started)) s in all)"
}
step bash scripts/setup.sh
step .venv/bin/python -m pip install -q -r requirements-dev.txt
step .venv/bin/pre-commit run --all-files --show-diff-on-failure
step .venv/bin/pytest -n auto tests
NO_MKDOCS_2_WARNING=1 step .venv/bin/mkdocs build --strict
# No GPU here: scripts/gpu/run_on_gpu.sh's build (the CUDA code compiled, the
# carried set measured) and suites on the CPU, without TensorFlow, so that a
# GPU machine's one call cannot fail on a missing file.
step bash scripts/gpu/run_on_gpu.sh --dry-run build/gpu-dry-run
# The CUDA TensorFlow: build with CUDA (this machine's nvcc, whatever its
# major: a build check), load, GPU kernels and XLA GPU lowerings listed.
step bash scripts/tf_cuda_build.sh --any-nvcc
# The oldest supported TensorFlow (the newest is the run above): build, quick
# subset, and refusal of a build made for another release.
step bash scripts/tf_matrix.sh --quick 2.16
# ASan + UBSan builds of the op library and the binding; any finding fails.
step bash scripts/sanitize.sh
step .venv/bin/python benchmarks/report.py --quick --results build/bench-smoke
site=$(.venv/bin/python -P -c "import pathlib, spatial_ops; print(pathlib.Path(spatial_ops.__file__).parents[1])")
step .venv/bin/python benchmarks/compare_builds.py "$site" "$site" --rounds 1 --quick
