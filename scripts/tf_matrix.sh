#!/usr/bin/env bash
# Builds spatial_ops and runs its tests against several TensorFlow releases,
# each in its own virtual environment, then prints a markdown table.
#
#   scripts/tf_matrix.sh [--quick] [--head] [VERSION ...]
#
# VERSION is a TensorFlow release line (2.16 takes its newest patch release) or
# an exact release (2.16.1); default: 2.16 to 2.21, the lines pyproject.toml
# supports. --quick runs a subset of the tests (op library load, forward and
# gradients in float32, layers, saving, release differences: about 540 tests)
# instead of the whole suite.
# --head builds the last commit instead of the working tree.
#
# Each version gets a virtual environment with requirements.txt (its
# TensorFlow line swapped for that version) and a copy of the sources, in
# SPATIAL_OPS_TF_MATRIX_DIR (default ~/.cache/spatial_ops/tf_matrix); both are
# reused by later runs, and so is the CMake build: only files whose content
# changed are rebuilt. With ccache installed, the framework-free kernels (the
# bulk of the build) are compiled once for all versions.
# Each version is also shown a build made for another TensorFlow (another
# version of this run, or the repository's .venv): its import must refuse it
# with the loader's ImportError.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${SPATIAL_OPS_TF_MATRIX_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spatial_ops/tf_matrix}"
PYTHON="${SPATIAL_OPS_TF_MATRIX_PYTHON:-python3.11}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"

# The subset --quick runs: the tests marked `quick` (the files that load the
# op library, build, save and reload layers, and cover the release
# differences), the forward and gradient checks in float32 only.
QUICK_FILTER="not (test_forward or test_gradients) or float32"

quick=0 head=0
versions=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --head) head=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) echo "tf_matrix.sh: unknown option $arg" >&2; exit 2 ;;
    *) versions+=("$arg") ;;
  esac
done
[ ${#versions[@]} -gt 0 ] || versions=(2.16 2.17 2.18 2.19 2.20 2.21)
# --head: one commit for every version, however the branch moves meanwhile.
commit="$(git -C "$ROOT" rev-parse HEAD)"

mkdir -p "$CACHE"
declare -A built tested seconds tf_release package_of

# --quick checks the glue against each TensorFlow: one CPU build of the
# kernels (which depend on no TensorFlow) is enough.
[ $quick = 0 ] || export CMAKE_ARGS="${CMAKE_ARGS:-} -DSPATIAL_OPS_CPU_BUILDS=baseline"
if command -v ccache >/dev/null; then
  export CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
  # Paths under the cache become relative, so the copies of all versions share hits.
  export CCACHE_BASEDIR="$CACHE"
fi

# The sources into $1: the working tree as git sees it (tracked and untracked,
# not ignored), or with --head the last commit. A file whose content is
# unchanged keeps its timestamp, so the build in $1/build stays incremental.
copy_sources() {
  local dest="$1" staging="$1.staging"
  rm -rf "$staging" && mkdir -p "$staging" "$dest"
  if [ $head = 1 ]; then
    git -C "$ROOT" archive "$commit" | tar -C "$staging" -xf -
  else
    git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
      tar -C "$ROOT" --null -T - --ignore-failed-read -cf - | tar -C "$staging" -xf -
  fi
  "$PYTHON" - "$staging" "$dest" <<'SYNC'
import filecmp, os, shutil, sys
staging, dest = sys.argv[1:]
for root, dirs, files in os.walk(dest):
    rel = os.path.relpath(root, dest)
    if rel == "build" or rel.startswith("build" + os.sep):
        continue
    for name in files:
        if not os.path.exists(os.path.join(staging, rel, name)):
            os.remove(os.path.join(root, name))
for root, dirs, files in os.walk(staging):
    os.makedirs(os.path.join(dest, os.path.relpath(root, staging)), exist_ok=True)
    for name in files:
        new = os.path.join(root, name)
        old = os.path.join(dest, os.path.relpath(new, staging))
        if not (os.path.isfile(old) and filecmp.cmp(new, old, shallow=False)):
            shutil.copy2(new, old)
SYNC
  rm -rf "$staging"
}

# requirements.txt with its TensorFlow pinned to the version asked for, and
# tf-keras, if listed, to the release line of that TensorFlow (they go
# together). Without JAX, PyTorch and the deployment runtimes: the tests of
# other Keras backends and of exports are not in the matrix, and they need a
# NumPy that TensorFlow 2.16 and 2.17 refuse.
requirements_for() {
  local version="$1" line
  case "$version" in
    *.*.*) line="${version%.*}" ;;
    *) line="$version" version="$version.*" ;;
  esac
  # requirements.txt with the file it includes (-r) written out in place.
  cat "$ROOT/requirements-without-tf.txt" "$ROOT/requirements.txt" | grep -v -E '^-r ' |
    grep -v -E '^(tensorflow|tensorflow-cpu|tf-keras|tf_keras|jax|torch|tf2onnx|onnx|onnxruntime|ai-edge-litert)([=<>!~ []|$)' 
  echo "tensorflow-cpu==$version"
  if grep -q -E '^(tf-keras|tf_keras)([=<>!~ ]|$)' "$ROOT/requirements.txt"; then
    echo "tf-keras==$line.*"
  fi
}

# Imports spatial_ops with $1 (a python) from a copy of the package $2, whose
# op library is replaced by $3 when given; passes when the import fails with
# the loader's ImportError naming the TensorFlow the foreign build was for.
refuses_foreign_build() {
  local python="$1" package="$2" library="${3:-}" expected="$4" scratch
  scratch="$(mktemp -d)"
  cp -r "$package" "$scratch/spatial_ops"
  [ -n "$library" ] && cp "$library" "$scratch/spatial_ops/_spatial_ops_tf.so"
  local last
  last="$(cd "$scratch" && PYTHONPATH="$scratch" "$python" -c 'import spatial_ops' 2>&1 | tail -n 1)"
  rm -rf "$scratch"
  echo "    import under $($python -c 'import sys; print(sys.prefix)'): $last" >&2
  [[ "$last" == "ImportError: spatial_ops was built for TensorFlow $expected "* ]]
}

# Where the spatial_ops that python $1 imports is installed (-I: not a checkout's).
installed_package() {
  [ -x "$1" ] && "$1" -I -c 'import importlib.util, os; print(os.path.dirname(importlib.util.find_spec("spatial_ops").origin))' 2>/dev/null
}

for version in "${versions[@]}"; do
  # A build folder of its own per source: their CMake options may differ.
  venv="$CACHE/venv-$version" src="$CACHE/$([ $head = 1 ] && echo head || echo src)-$version"
  log="$CACHE/log-$version.txt"
  echo "== TensorFlow $version: $venv" >&2
  start=$SECONDS
  built[$version]=no tested[$version]="not run"
  : >"$log"
  {
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
    requirements_for "$version" >"$CACHE/requirements-$version.txt"
    "$venv/bin/python" -m pip install -q -r "$CACHE/requirements-$version.txt"
  } >>"$log" 2>&1 || { echo "   pip install failed: see $log" >&2; seconds[$version]=$((SECONDS - start)); continue; }
  tf_release[$version]="$(TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/python" -c 'import tensorflow as tf; print(tf.__version__)' 2>>"$log")"
  copy_sources "$src"
  if nice -n 15 "$venv/bin/python" -m pip install -v --no-deps --force-reinstall "$src" >>"$log" 2>&1; then
    built[$version]=yes
    package_of[$version]="$(installed_package "$venv/bin/python")"
    args=(tests)
    [ $quick = 1 ] && args=(tests -m quick -k "$QUICK_FILTER")
    # The pytest script, not python -m pytest, which would put the copy's
    # unbuilt package first on sys.path: the tests must import the installed one.
    (cd "$src" && nice -n 15 "$venv/bin/pytest" -q -p no:cacheprovider "${args[@]}") >>"$log" 2>&1
    tested[$version]="$(grep -E '^=* ?[0-9]+ (passed|failed|error)' "$log" | tail -n 1 | sed -E 's/^=+ //; s/ in [0-9.]+s.*//')"
    [ -n "${tested[$version]}" ] || tested[$version]="pytest error (see log)"
  else
    echo "   build failed: see $log" >&2
  fi
  seconds[$version]=$((SECONDS - start))
  echo "   built: ${built[$version]}; tests: ${tested[$version]}; ${seconds[$version]} s" >&2
done

# Every build is shown one made for another TensorFlow: first the whole
# package, then only its op library dropped into this build's package.
declare -A refused
dev_package="$(installed_package "$ROOT/.venv/bin/python")"
for version in "${versions[@]}"; do
  [ "${built[$version]}" = yes ] || continue
  refused[$version]="n/a (no build for another TensorFlow)"
  foreign="" foreign_release=""
  for other in "${versions[@]}" dev; do
    if [ "$other" = dev ]; then
      [ -n "$dev_package" ] || continue
      package="$dev_package"
      release="$(sed -n "s/^TF_VERSION = '\(.*\)'$/\1/p" "$package/_build_info.py")"
    else
      [ "${built[$other]}" = yes ] || continue
      package="${package_of[$other]}" release="${tf_release[$other]}"
    fi
    if [ -n "$release" ] && [ "$release" != "${tf_release[$version]}" ]; then
      foreign="$package" foreign_release="$release"
      break
    fi
  done
  [ -n "$foreign" ] || continue
  echo "== TensorFlow ${tf_release[$version]} shown the build for $foreign_release" >&2
  python="$CACHE/venv-$version/bin/python"
  if refuses_foreign_build "$python" "$foreign" "" "$foreign_release" &&
     refuses_foreign_build "$python" "${package_of[$version]}" "$foreign/_spatial_ops_tf.so" "$foreign_release"; then
    refused[$version]="yes ($foreign_release build)"
  else
    refused[$version]="NO ($foreign_release build)"
  fi
done

status=0
echo
echo "| TensorFlow | built | tests$([ $quick = 1 ] && echo ' (--quick)') | build for another TensorFlow refused | time |"
echo "| --- | --- | --- | --- | --- |"
for version in "${versions[@]}"; do
  result="${tested[$version]}"
  echo "| ${tf_release[$version]:-$version} | ${built[$version]} | $result | ${refused[$version]:-not run} | ${seconds[$version]} s |"
  if [ "${built[$version]}" != yes ] || [[ "$result" != *passed* ]] ||
     [[ "$result" == *failed* || "$result" == *error* ]] || [[ "${refused[$version]:-}" == NO* ]]; then
    status=1
  fi
done
echo
echo "$([ $head = 1 ] && echo "commit ${commit:0:12}" || echo "working tree at ${commit:0:12}"), $(uname -m)," \
  "$("$PYTHON" --version 2>&1), $(${CXX:-g++} --version | head -n 1); logs in $CACHE"
exit $status
