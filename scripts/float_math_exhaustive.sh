#!/usr/bin/env bash
# Checks every float32 input of each function of csrc/core/float_math.h in
# every CPU build this CPU runs (tests/exhaustive/float_math_exhaustive.cc)
# and records the largest errors and the worst inputs, with the hash of the
# header they were measured on, in tests/float_math_bounds.json. Rerun it
# after any change to float_math.h: tests/test_float_math.py refuses a record
# measured on another version of the header. About 2 minutes per function on
# 2 cores; the arguments, if any, name the functions to check (their records
# are then merged into the existing file).
#
# Usage: bash scripts/float_math_exhaustive.sh [function ...]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
BUILD=build/exhaustive
cmake -S . -B "$BUILD" -DSPATIAL_OPS_CUDA=OFF -Dpybind11_DIR="$("$PYTHON" -m pybind11 --cmakedir)" \
  -DPython_EXECUTABLE="$(realpath "$PYTHON")" > "$BUILD.configure.log"
cmake --build "$BUILD" --target spatial_ops_cpu -j "$(nproc)" > "$BUILD.build.log"
g++ -std=c++17 -O2 -pthread -I csrc tests/exhaustive/float_math_exhaustive.cc \
  "$BUILD/libspatial_ops_cpu.a" "$BUILD/libspatial_ops_core.a" -o "$BUILD/float_math_exhaustive"
"$BUILD/float_math_exhaustive" "$@" > "$BUILD/measured.json"
"$PYTHON" - "$BUILD/measured.json" tests/float_math_bounds.json csrc/core/float_math.h "$@" <<'PY'
import hashlib, json, pathlib, sys

measured_path, record_path, header, *only = sys.argv[1:]
measured = json.loads(pathlib.Path(measured_path).read_text())
record = {"functions": {}}
if only and pathlib.Path(record_path).exists():
    record = json.loads(pathlib.Path(record_path).read_text())
record["float_math_h_sha256"] = hashlib.sha256(pathlib.Path(header).read_bytes()).hexdigest()
record["functions"].update(measured)
pathlib.Path(record_path).write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
for name, builds in measured.items():
    print(name, {isa: round(r["max_ulps"], 4) for isa, r in builds.items()})
PY
