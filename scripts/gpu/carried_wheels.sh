#!/usr/bin/env bash
# The wheels a GPU machine lacks, for its Python (3.12, manylinux x86_64),
# into build/gpu-wheels: Keras, at the version PYTHON's environment has (the
# one the suites run with here), and what Keras needs beyond the machine's
# image (namex, optree). Then the carried set, the working tree and these
# wheels, measured against the 64 MiB a call to the machine may carry.
#   bash scripts/gpu/carried_wheels.sh [PYTHON]   (PYTHON: an environment with Keras)
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${1:-.venv/bin/python}"
wheels=build/gpu-wheels
limit_mib=64
pins="$("$python" -c 'from importlib.metadata import version
print(" ".join(f"{name}=={version(name)}" for name in ("keras", "namex", "optree")))')"
rm -rf "$wheels"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d "$wheels" $pins
# The working tree as the call carries it: tracked and untracked files that git does not ignore.
tree_bytes="$(git ls-files -z --cached --others --exclude-standard | python3 -c '
import os, sys
print(sum(os.path.getsize(p) for p in sys.stdin.read().split("\0") if p and os.path.isfile(p)))')"
wheel_bytes="$(du -cb "$wheels"/*.whl | tail -n 1 | cut -f1)"
total_mib=$(( (tree_bytes + wheel_bytes) / 1048576 ))
echo "carried: working tree $((tree_bytes / 1024)) KiB + wheels ($pins) $((wheel_bytes / 1024)) KiB = ${total_mib} MiB of ${limit_mib}"
[ "$total_mib" -lt "$limit_mib" ] || { echo "the carried set is over ${limit_mib} MiB" >&2; exit 1; }
