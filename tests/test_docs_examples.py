"""Every Python example in README.md and docs/ runs, so that none can rot.

Each ```python block runs as it is written, as if alone: in a namespace of
its own, in a working directory of its own (examples may write files),
with os.environ restored and Keras' global settings reset after it. A block
chooses its Keras backend as a reader does, with
os.environ["KERAS_BACKEND"] = "jax" (or "torch") before Keras is imported;
the others run on TensorFlow, Keras' default. The blocks of one backend
share one fresh process, started for the test.

HTML comments just before a block (invisible on the rendered page) qualify it:

    <!-- run: own process -->    a fresh process of its own, for settings that
                                 must come before a framework starts
    <!-- skip: REASON -->        REASON is a key of SKIP_REASONS; the block is
                                 skipped only where that reason holds, which
                                 the child checks, and runs everywhere else
"""

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.processes import run_python

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# Why a block may be skipped, and the Python expression (run in the child
# after its own imports) that is true where the reason holds.
SKIP_REASONS = {
    "needs a CUDA GPU": "not (__import__('spatial_ops._core')._core.built_with_cuda"
    " and __import__('spatial_ops._core')._core.cuda_device_count() > 0)",
}
MARKERS = {"run": ("own process",), "skip": tuple(SKIP_REASONS)}

_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
_MARKER = re.compile(r"^<!--\s*(\w+):\s*(.*?)\s*-->\s*$")
_BACKEND = re.compile(
    r"""os\.environ(?:\[\s*["']KERAS_BACKEND["']\s*\]\s*=|\.setdefault\(\s*["']KERAS_BACKEND["']\s*,)"""
    r"""\s*["'](\w+)["']"""
)


@dataclass(frozen=True)
class Block:
    path: str  # from the repository root
    line: int  # of the block's first line of code
    source: str
    backend: str
    own_process: bool
    skip: str  # a key of SKIP_REASONS, or ""

    @property
    def where(self):
        return f"{self.path}:{self.line}"


def _markers_before(lines, index):
    """The marker comments on the lines just before lines[index] (blank lines between allowed)."""
    found, i = {}, index - 1
    while i >= 0 and (not lines[i].strip() or _MARKER.match(lines[i])):
        marker = _MARKER.match(lines[i])
        if marker:
            found[marker.group(1)] = (marker.group(2), i)
        i -= 1
    return found


def collect(path):
    """(the Python blocks of a Markdown file, the problems found in its markers and fences)."""
    relative = path.relative_to(ROOT).as_posix()
    lines = path.read_text().splitlines()
    blocks, problems, used_markers = [], [], set()
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        indent, marks, language = fence.groups()
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(marks):
            end += 1
        if language in ("python", "py", "python3"):
            if indent:
                problems.append(
                    f"{relative}:{index + 1}: an indented Python block would not be run; "
                    "put it at the start of the line"
                )
            markers = _markers_before(lines, index)
            for key, (value, line) in markers.items():
                used_markers.add(line)
                if value not in MARKERS.get(key, ()):
                    problems.append(f"{relative}:{line + 1}: unknown marker <!-- {key}: {value} -->; known: {MARKERS}")
            source = "\n".join(lines[index + 1 : end])
            backends = set(_BACKEND.findall(source)) or {"tensorflow"}
            if len(backends) > 1:
                problems.append(f"{relative}:{index + 1}: the block sets KERAS_BACKEND to {sorted(backends)}")
            blocks.append(
                Block(
                    relative,
                    index + 2,
                    source,
                    min(backends),
                    markers.get("run", ("",))[0] == "own process",
                    markers.get("skip", ("",))[0],
                )
            )
        index = end + 1
    for line, text in enumerate(lines):
        marker = _MARKER.match(text)
        if marker and marker.group(1) in MARKERS and line not in used_markers:
            problems.append(f"{relative}:{line + 1}: {text.strip()} qualifies no Python block")
    return blocks, problems


BLOCKS, PROBLEMS = [], []
for _page in PAGES:
    _blocks, _problems = collect(_page)
    BLOCKS += _blocks
    PROBLEMS += _problems


def _groups():
    """The processes to run: one per backend for the shared blocks, one per own-process block."""
    groups = {}
    for block in BLOCKS:
        key = block.where if block.own_process else block.backend
        groups.setdefault(key, []).append(block)
    return groups


GROUPS = _groups()

# Runs the blocks given as JSON (argv[1]) in this process, each in a working
# directory under argv[2], and writes what happened to each to argv[3].
RUNNER = r"""
import json, os, sys, tempfile, traceback

blocks, work_dir, results_path = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
results = []
for block in blocks:
    if block["skip_when"] and eval(block["skip_when"]):
        results.append({"where": block["where"], "outcome": "skipped: " + block["skip"]})
        continue
    os.chdir(tempfile.mkdtemp(dir=work_dir))
    environ = dict(os.environ)
    try:
        # Padded so that a traceback names the line in the Markdown file.
        exec(compile("\n" * (block["line"] - 1) + block["source"], block["path"], "exec"), {"__name__": "__main__"})
        outcome = "passed"
    except BaseException:
        outcome = "failed:\n" + traceback.format_exc(limit=-8)
    finally:
        os.environ.clear()
        os.environ.update(environ)
        keras = sys.modules.get("keras")
        if keras is not None:
            keras.config.set_dtype_policy("float32")
            keras.backend.clear_session()
    results.append({"where": block["where"], "outcome": outcome})
json.dump(results, open(results_path, "w"))
"""


def _env(backend):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_USE_LEGACY_KERAS", None)
    return env


def test_every_example_is_collected_and_every_marker_is_known():
    assert not PROBLEMS, "\n".join(PROBLEMS)
    readme_backends = {block.backend for block in BLOCKS if block.path == "README.md"}
    assert readme_backends == {"tensorflow", "jax", "torch"}, "README.md has a quickstart per backend"


@pytest.mark.parametrize("key", sorted(GROUPS))
def test_examples_run(key, tmp_path):
    blocks = GROUPS[key]
    pytest.importorskip(blocks[0].backend)  # Keras' backend names are the frameworks' module names
    (tmp_path / "blocks.json").write_text(
        json.dumps(
            [
                {
                    "where": b.where,
                    "path": b.path,
                    "line": b.line,
                    "source": b.source,
                    "skip": b.skip,
                    "skip_when": SKIP_REASONS.get(b.skip, ""),
                }
                for b in blocks
            ]
        )
    )
    (tmp_path / "work").mkdir()
    run_python(
        RUNNER,
        tmp_path / "blocks.json",
        tmp_path / "work",
        tmp_path / "results.json",
        env=_env(blocks[0].backend),
        timeout=600,
    )
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["where"] for r in results] == [b.where for b in blocks]
    failures = [f"{r['where']}: {r['outcome']}" for r in results if r["outcome"].startswith("failed")]
    assert not failures, "\n\n".join(failures)
