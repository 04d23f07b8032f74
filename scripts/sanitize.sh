#!/usr/bin/env bash
# Runs the kernels, the NumPy binding and the TensorFlow op library under
# AddressSanitizer and UndefinedBehaviorSanitizer, and exits non-zero on any
# finding.
#
# 1. Builds spatial_ops with -fsanitize=address,undefined from a copy of the
#    source tree into build/sanitize (apart from .venv; incremental on reruns).
# 2. Proves the sanitizers are live: a deliberate heap overflow and a signed
#    overflow (tests/sanitize/probe.cc) must each be reported, in the very
#    environment the tests then run in.
# 3. Runs tests/sanitize/kernel_checks.cc (hostile shapes, every kind of
#    valid shape through the kernels) against each CPU build this CPU runs.
# 4. Runs the tests marked `sanitized` (the binding, raw-op, error, property,
#    numeric-edge and concurrency tests and a sample of the forward and
#    gradient tests) in .venv's Python, with the sanitized libraries imported
#    instead of the installed ones.
#
# Usage: bash scripts/sanitize.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=$ROOT/.venv/bin/python
OUT=${SPATIAL_OPS_SANITIZE_DIR:-$ROOT/build/sanitize}
SANITIZE="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

echo "== building with $SANITIZE in $OUT"
mkdir -p "$OUT/src"
rm -rf "$OUT/src/spatial_ops"  # no Python module the tree no longer has
# The working tree's files (tracked, and new ones not ignored), mtimes kept so
# that a rebuild only recompiles what changed.
git ls-files -z --cached --others --exclude-standard \
  | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$OUT/src"
# g++'s null and nonnull checks reject constant expressions in TensorFlow's
# headers (absl), so the op library's sources (TF_COMPILE_FLAGS apply to them
# alone) go without those three; ASan still traps any null access there.
TF_FLAGS=$("$PYTHON" -c "import tensorflow as tf; print(';'.join(tf.sysconfig.get_compile_flags()))" 2>/dev/null)
TF_FLAGS="$TF_FLAGS;-fno-sanitize=null,nonnull-attribute,returns-nonnull-attribute"
# The CPU builds of the kernels this CPU runs (those the checks below can run).
CPU_BUILDS=$("$PYTHON" -P -c "import spatial_ops._core as core; print(';'.join(core.supported_cpu_isas()))" 2>/dev/null)
CXXFLAGS="$SANITIZE -g1" LDFLAGS="-fsanitize=address,undefined" SPATIAL_OPS_TF_PYTHON="$PYTHON" \
  SPATIAL_OPS_WITH_TF=1 SPATIAL_OPS_WITH_JAX=0 CMAKE_ARGS="-DSPATIAL_OPS_CUDA=OFF -DTF_COMPILE_FLAGS=$TF_FLAGS
              -DSPATIAL_OPS_CPU_BUILDS=$CPU_BUILDS
              -DCMAKE_CXX_COMPILER_LAUNCHER=$ROOT/scripts/sanitize_compiler_at_O1.sh" \
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
  "$PYTHON" -m pip install -q --no-deps --upgrade --target "$OUT/site" "$OUT/src"
for library in "$OUT"/site/spatial_ops/*.so; do
  symbols=$(nm -D --undefined-only "$library")
  for symbol in __asan_report_load __ubsan_handle_; do
    grep -q "$symbol" <<< "$symbols" || { echo "$library is not instrumented ($symbol missing)"; exit 1; }
  done
done
CPU_KERNELS=$(find "$OUT/src/build" -name libspatial_ops_cpu.a | head -n 1)
ABI=$(tr ';' '\n' <<< "$TF_FLAGS" | grep -- -D_GLIBCXX_USE_CXX11_ABI= || true)
g++ -std=c++17 -O1 -g1 $SANITIZE -pthread $ABI -I "$OUT/src/csrc" \
  "$OUT/src/tests/sanitize/kernel_checks.cc" "$CPU_KERNELS" "$(dirname "$CPU_KERNELS")/libspatial_ops_core.a" \
  -o "$OUT/kernel_checks"
g++ -std=c++17 -O1 -g1 $SANITIZE -shared -fPIC "$OUT/src/tests/sanitize/probe.cc" -o "$OUT/probe.so"

# Python and TensorFlow keep memory until exit by design: no leak checking.
# Allocation failures (a test asks for 20 TiB) return null to TensorFlow,
# which reports them, as without the sanitizer. Reports go to stderr, which
# is kept in $LOG: a report anywhere in it is a finding, even one from a
# child process whose exit status a test might not look at.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# The ASan runtime must come first; libstdc++ too, or ASan cannot find the
# real __cxa_throw when a C++ extension loaded later throws.
PYTHON_ENV=(env LD_PRELOAD="$(g++ -print-file-name=libasan.so) $(g++ -print-file-name=libstdc++.so)"
            PYTHONPATH="$OUT/site" TF_CPP_MIN_LOG_LEVEL=2 SPATIAL_OPS_HYPOTHESIS_PROFILE=ci)
LOG=$OUT/sanitize.log
REPORT="ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer|SUMMARY: (Address|UndefinedBehavior)Sanitizer"

echo "== the sanitizers are live: two deliberate errors must be reported"
for probe in heap_overflow:heap-buffer-overflow signed_overflow:"signed integer overflow"; do
  if "${PYTHON_ENV[@]}" "$PYTHON" -c "import ctypes, sys; ctypes.CDLL(sys.argv[1]).${probe%%:*}(0)" \
      "$OUT/probe.so" > "$LOG" 2>&1; then
    echo "probe ${probe%%:*} ran to completion: the sanitizer is not active"; exit 1
  fi
  grep -q "${probe#*:}" "$LOG" || { cat "$LOG"; echo "probe ${probe%%:*}: no '${probe#*:}' report"; exit 1; }
  echo "   ${probe%%:*}: reported"
done

echo "== C++ kernel checks under the sanitizers, each CPU build"
status=0
ISAS=$("${PYTHON_ENV[@]}" "$PYTHON" -P -c "import spatial_ops._core as core; print(*core.supported_cpu_isas())" 2> "$LOG") \
  || { cat "$LOG"; exit 1; }
for isa in $ISAS; do
  SPATIAL_OPS_CPU_ISA=$isa "$OUT/kernel_checks" 2>&1 | tee "$LOG" || status=1
  if grep -Eq "$REPORT" "$LOG"; then status=1; fi
  [ $status -eq 0 ] || { echo "kernel checks failed (build $isa)"; exit 1; }
done

echo "== tests in Python with the sanitized libraries"
"${PYTHON_ENV[@]}" "$PYTHON" -P -c "
import sys, spatial_ops, spatial_ops._core as core
assert spatial_ops.__file__.startswith(sys.argv[1]), spatial_ops.__file__
assert core.__file__.startswith(sys.argv[1]), core.__file__
print('   importing', spatial_ops.__file__)" "$OUT/site" 2> "$LOG" || { cat "$LOG"; exit 1; }
# --capture=sys: a report written to the stderr file descriptor by a dying
# process reaches $LOG instead of vanishing with pytest's captured output.
"${PYTHON_ENV[@]}" "$ROOT/.venv/bin/pytest" -q -p no:cacheprovider --capture=sys -m sanitized tests \
  "$@" 2>&1 | tee "$LOG" || status=$?
if grep -Eq "$REPORT" "$LOG"; then
  echo "sanitizer findings: see $LOG"; exit 1
fi
[ $status -eq 0 ] && echo "== no sanitizer findings"
exit $status
