"""Runs the benchmark suites, each in the process environment it needs, and
renders their pytest-benchmark JSON into BENCHMARKS.md (a summary per
backend and CPU build, with plots), the detailed tables it links
(benchmarks/results/*.md) and the summary in README.md.

    .venv/bin/python benchmarks/report.py                 # measure everything, then render
    .venv/bin/python benchmarks/report.py --only jax torch  # measure these sessions, then render
    .venv/bin/python benchmarks/report.py --render         # render the saved JSON only
    .venv/bin/python benchmarks/report.py --quick --results DIR  # CI: tiny sizes, one call each

A session is one pytest process over one benchmark module, with its own
environment: a Keras backend, a TensorFlow CPU allocator
(benchmarks/tf_allocators.py), a CPU build of the kernels forced narrower
(SPATIAL_OPS_CPU_ISA, XLA capped alike). Its JSON is
benchmarks/results/<session>.json, committed with the tables. Times are
pytest-benchmark's medians of whole calls; the spread column is the
interquartile range over the median. Peak memory (peak_memory.py) and
accuracy (accuracy.py) measure no time and stay scripts; their tables are
rendered here too.
"""

import argparse
import collections
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from harness import floor_seconds, size_id  # noqa: E402
from tf_allocators import ALLOCATORS  # noqa: E402

XLA_ISA_NAMES = {"avx2": "AVX2", "avx512": "AVX512", "baseline": "AVX"}
TF_PEERS = ("eager", "tf.function", "xla")
SUMMARY_START, SUMMARY_END = "<!-- benchmarks summary: begin -->", "<!-- benchmarks summary: end -->"


# ---- sessions: which module runs in which environment ----


def sessions(quick=False):
    """{name: (modules, environment, selected cases)} of a full run. A quick
    run (CI's smoke run) puts the modules of each Keras backend in one
    process, with one allocator and the native CPU build."""
    from spatial_ops import _core

    tensorflow_modules = ["tensorflow", "xla_step", "kernels", "against_xla", "first_touch", "keras_model"]
    if quick:
        return {
            "tensorflow": (tensorflow_modules, {}, []),
            "jax": (["jax", "keras_model"], {"KERAS_BACKEND": "jax"}, []),
            "torch": (["torch", "keras_model"], {"KERAS_BACKEND": "torch"}, []),
        }
    native = _core.active_cpu_isa()
    isas = [None] + (["avx2"] if native not in ("avx2", "baseline") and "avx2" in _core.supported_cpu_isas() else [])
    found = {name: ([name], {}, []) for name in ("tensorflow", "xla_step", "kernels")}
    for backend in ("jax", "torch"):
        found[backend] = ([backend], {"KERAS_BACKEND": backend}, [])
    for backend in ("tensorflow", "jax", "torch"):
        found[f"keras_model-{backend}"] = (["keras_model"], {"KERAS_BACKEND": backend}, [])
    for allocator in ALLOCATORS:
        environment = dict(ALLOCATORS[allocator], SPATIAL_OPS_BENCH_ALLOCATOR=allocator)
        for isa in isas:
            forced = {}
            if isa:
                forced = {"SPATIAL_OPS_CPU_ISA": isa, "XLA_FLAGS": f"--xla_cpu_max_isa={XLA_ISA_NAMES[isa]}"}
            found[f"against_xla-{allocator}-{isa or native}"] = (["against_xla"], environment | forced, [])
        # The first call of a process: each case alone in a fresh one.
        for pass_ in ("forward", "training step"):
            found[f"first_touch-{allocator}-first-{pass_.replace(' ', '_')}"] = (
                ["first_touch"],
                environment,
                [f"test_first_call[{pass_}]"],
            )
        found[f"first_touch-{allocator}-later"] = (["first_touch"], environment, ["test_later_calls"])
    return found


def module_path(module):
    return HERE / f"test_bench_{module}.py"


def run_session(name, modules, environment, selection, results, quick=False, pytest_args=()):
    """One pytest process over the modules (short names: "jax" is
    test_bench_jax.py), the cases in selection or all; its JSON in
    results/<name>.json."""
    path = results / f"{name}.json"
    targets = [f"{module_path(m)}::{case}" for m in modules for case in selection] or list(
        map(str, map(module_path, modules))
    )
    command = [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        *pytest_args,
        "-q",
        "-p",
        "no:cacheprovider",
        "--benchmark-only",
    ]
    command.append(f"--benchmark-json={path}")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **environment)
    if quick:
        env["SPATIAL_OPS_BENCH_QUICK"] = "1"
        command += ["--benchmark-min-rounds=1", "--benchmark-max-time=0", "--benchmark-warmup=off"]
    print(f"== {name}: {' '.join(f'{k}={v}' for k, v in environment.items())} pytest {' '.join(modules)}", flush=True)
    # From a folder outside the checkout: the installed spatial_ops, not the source tree.
    subprocess.run(command, env=env, cwd=tempfile.gettempdir(), check=True)
    compact(path)


def compact(path):
    """Drops each benchmark's list of every round's time (stats.data), which
    makes up most of the file: the statistics stay."""
    run = json.loads(path.read_text())
    for bench in run["benchmarks"]:
        bench["stats"].pop("data", None)
    path.write_text(json.dumps(run, indent=1) + "\n")


def run_scripts(results, quick):
    """The measurements that are not timings, as markdown tables."""
    import accuracy
    import peak_memory

    (results / "peak_memory.md").write_text(peak_memory.table((8, 3, 3) if quick else (1024, 256, 256)))
    (results / "accuracy.md").write_text(accuracy.table(step=400_009) if quick else accuracy.table())


# ---- reading the JSON ----


def load(results):
    """{session: pytest-benchmark's JSON} of every saved session."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(results.glob("*.json"))}


def benchmarks_of(runs, module):
    """(session, benchmark) of every benchmark of the module (short name)."""
    source = f"test_bench_{module}.py::"
    return [(name, bench) for name, run in runs.items() for bench in run["benchmarks"] if source in bench["fullname"]]


def _median(bench):
    return bench["stats"]["median"]


def _spread(bench):
    stats = bench["stats"]
    return stats["iqr"] / stats["median"] if stats["median"] else 0.0


def _ms(seconds):
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def _elements(size):
    n = 1
    for s in size:
        n *= s
    return n


def machine(runs):
    """Where and when the sessions ran, from their JSON."""
    run = next(iter(runs.values()))
    info = run["machine_info"]
    dates = sorted(r["datetime"][:10] for r in runs.values())
    builds = sorted(
        {b["extra_info"]["cpu_build"] for r in runs.values() for b in r["benchmarks"] if "cpu_build" in b["extra_info"]}
    )
    return (
        f"{info['cpu'].get('brand_raw', info.get('processor', ''))}, {info['cpu'].get('count', '?')} cores, "
        f"Python {info['python_version']}; CPU builds of the kernels measured: {', '.join(builds)}; "
        f"run {dates[0]}{f' to {dates[-1]}' if dates[-1] != dates[0] else ''}"
    )


# ---- TensorFlow: the fused op against its peers, with the floors ----


def tensorflow_times(runs):
    floors, times = collections.defaultdict(dict), collections.defaultdict(dict)
    halves, every, adds = collections.defaultdict(dict), {}, {}
    for _, bench in benchmarks_of(runs, "tensorflow"):
        params, median, test = bench["params"], _median(bench), bench["name"].split("[")[0]
        size = tuple(params["size"])
        if test in ("test_copy_floor", "test_read_floor", "test_tape_fill"):
            floors[size][test] = median
        elif test == "test_one_tf_add":
            adds[(size, params["pass_"])] = median
        elif test == "test_fused_half_types":
            halves[(size, params["pass_"], params["activation"], params["reduce_axis"])][params["dtype"]] = median
        elif test == "test_fused_every_activation":
            every[(size, params["table_row"], params["pass_"], params["reduce_axis"])] = median
        else:
            times[(size, params["pass_"], params["activation"], params["reduce_axis"])][params["implementation"]] = (
                median
            )
    return floors, times, halves, every, adds


def tensorflow_table(floors, times, adds):
    lines = [
        "| size (float32) | pass | activation | reduce | fused ms | / floor | / (floor + fill) | / tf.add | "
        "vs eager | vs tf.function | vs XLA |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = lambda item: (_elements(item[0][0]), item[0][1], item[0][2], str(item[0][3]))  # noqa: E731
    for (size, pass_, activation, reduce_axis), t in sorted(times.items(), key=order):
        fused = t["fused"]
        floor = floor_seconds(size, pass_, reduce_axis, floors[size]["test_copy_floor"])
        with_fill = ""
        if pass_ == "training_step" and reduce_axis is None:
            with_fill = f"{fused / (floor + floors[size]['test_tape_fill']):.2f}"
        add = adds.get((size, pass_))
        lines.append(
            f"| {size_id(size)} | {pass_} | {activation} | {reduce_axis} | {_ms(fused)} | {fused / floor:.2f} | "
            f"{with_fill} | {'' if add is None else f'{fused / add:.2f}'} | "
            + " | ".join(f"{t[p] / fused:.2f}x" for p in TF_PEERS)
            + " |"
        )
    return "\n".join(lines) + "\n"


def read_table(floors, times):
    lines = [
        "| size (float32) | copy ms | read ms | activation | fused reduced forward ms | / read | XLA / read |",
        "|---|---|---|---|---|---|---|",
    ]
    for (size, pass_, activation, reduce_axis), t in sorted(times.items(), key=lambda i: (_elements(i[0][0]), i[0][2])):
        if pass_ != "forward" or reduce_axis is None:
            continue
        read = floors[size]["test_read_floor"]
        lines.append(
            f"| {size_id(size)} | {_ms(floors[size]['test_copy_floor'])} | {_ms(read)} | {activation} | "
            f"{_ms(t['fused'])} | {t['fused'] / read:.2f} | {t['xla'] / read:.2f} |"
        )
    return "\n".join(lines) + "\n"


def half_table(halves, times):
    lines = [
        "| size | pass | activation | reduce | float32 ms | float16 ms | bfloat16 ms | float16 / float32 "
        "| bfloat16 / float32 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, t in sorted(halves.items(), key=lambda i: (i[0][1], i[0][2], str(i[0][3]))):
        size, pass_, activation, reduce_axis = key
        f32 = times[key]["fused"]
        lines.append(
            f"| {size_id(size)} | {pass_} | {activation} | {reduce_axis} | {_ms(f32)} | {_ms(t['float16'])} | "
            f"{_ms(t['bfloat16'])} | {t['float16'] / f32:.2f} | {t['bfloat16'] / f32:.2f} |"
        )
    return "\n".join(lines) + "\n"


def every_table(floors, every):
    lines = [
        "| size | activation | forward / floor | reduced forward / read | training step / floor "
        "| / (floor + fill) | reduced training step / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, row in sorted({(k[0], k[1]) for k in every}, key=lambda k: (_elements(k[0]), k[1])):
        t = lambda pass_, axis: every[(size, row, pass_, axis)]  # noqa: E731
        floor = lambda pass_, axis: floor_seconds(size, pass_, axis, floors[size]["test_copy_floor"])  # noqa: E731
        step = t("training_step", None)
        lines.append(
            f"| {size_id(size)} | {row} | {t('forward', None) / floor('forward', None):.2f} | "
            f"{t('forward', -1) / floors[size]['test_read_floor']:.2f} | {step / floor('training_step', None):.2f} | "
            f"{step / (floor('training_step', None) + floors[size]['test_tape_fill']):.2f} | "
            f"{t('training_step', -1) / floor('training_step', -1):.2f} |"
        )
    return "\n".join(lines) + "\n"


def tensorflow_plot(times, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for axis, pass_ in zip(axes, ("forward", "training_step")):
        for (activation, reduce_axis), marker in zip(sorted({(k[2], k[3]) for k in times}, key=str), "osd^v<>"):
            keys = sorted(
                (k for k in times if k[1] == pass_ and k[2] == activation and k[3] == reduce_axis),
                key=lambda k: _elements(k[0]),
            )
            sizes = [_elements(k[0]) * 4 / 2**20 for k in keys]
            for peer, style in zip(TF_PEERS, ("-", "--", ":")):
                speedups = [times[k][peer] / times[k]["fused"] for k in keys]
                axis.plot(sizes, speedups, style, marker=marker, label=f"{activation}, reduce {reduce_axis}, vs {peer}")
        axis.axhline(1.0, color="gray", linewidth=0.8)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("x size (MiB, float32)")
        axis.set_title(f"TensorFlow, {pass_.replace('_', ' ')}")
    axes[0].set_ylabel("speed-up of the fused op (peer time / fused time)")
    axes[1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    figure.savefig(path, dpi=110)


# ---- the other sessions ----


def against_xla_pairs(runs):
    """{(session, activation, pass): {"fused": benchmark, "xla": benchmark}}."""
    pairs = collections.defaultdict(dict)
    for session, bench in benchmarks_of(runs, "against_xla"):
        params = bench["params"]
        pairs[(session, params["table_row"], params["pass_"])][params["implementation"]] = bench
    return pairs


def against_xla_table(runs):
    lines = [
        "| allocator | CPU build | activation | pass | fused ms | XLA ms | vs XLA | fused faults | XLA faults |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (_, row, pass_), pair in against_xla_pairs(runs).items():
        fused, xla = pair["fused"], pair["xla"]
        build = fused["extra_info"]["cpu_build"]
        capped = fused["extra_info"]["xla_flags"]
        lines.append(
            f"| {fused['extra_info']['allocator']} | {build}{' (XLA capped alike)' if capped else ''} | {row} | "
            f"{pass_} | {_ms(_median(fused))} | {_ms(_median(xla))} | {_median(xla) / _median(fused):.2f}x | "
            f"{fused['extra_info']['minor_faults']:.0f} | {xla['extra_info']['minor_faults']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def against_xla_summary(runs):
    """Per allocator and CPU build: the lowest and the median ratio over
    every activation, per pass."""
    ratios = collections.defaultdict(list)
    for (_, _, pass_), pair in against_xla_pairs(runs).items():
        info = pair["fused"]["extra_info"]
        ratios[(info["allocator"], info["cpu_build"], pass_)].append(_median(pair["xla"]) / _median(pair["fused"]))
    lines = [
        "| allocator | CPU build | pass | lowest vs XLA | median vs XLA | activations |",
        "|---|---|---|---|---|---|",
    ]
    for (allocator, build, pass_), values in sorted(ratios.items()):
        lines.append(
            f"| {allocator} | {build} | {pass_} | {min(values):.2f}x | {statistics.median(values):.2f}x | "
            f"{len(values)} |"
        )
    return "\n".join(lines) + "\n"


def first_touch_table(runs):
    cells = collections.defaultdict(dict)
    for _, bench in benchmarks_of(runs, "first_touch"):
        info = bench["extra_info"]
        if info["call"] == "first call" and info["calls_before"] != 0:
            continue  # not a process' first call
        cells[(info["allocator"], bench["params"]["pass_"])][info["call"]] = bench
    lines = [
        "| allocator | pass | first call faults | first call ms | later calls faults | later calls ms |",
        "|---|---|---|---|---|---|",
    ]
    for (allocator, pass_), calls in cells.items():
        cells = [allocator, pass_]
        for bench in (calls.get("first call"), calls.get("later calls")):
            cells += ["", ""] if bench is None else [f"{bench['extra_info']['minor_faults']:.0f}", _ms(_median(bench))]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def xla_step_table(runs):
    steps = collections.defaultdict(dict)
    lowered = True
    for _, bench in benchmarks_of(runs, "xla_step"):
        steps[bench["params"]["implementation"]][bench["params"]["activation"]] = _median(bench)
        lowered = lowered and bench["extra_info"]["lowered"]
    note = "" if lowered else "This build does not lower the op to XLA: 'fused, XLA' ran the composite.\n\n"
    lines = ["| step | relu ms | gelu ms |", "|---|---|---|"]
    lines += [f"| {name} | {_ms(t['relu'])} | {_ms(t['gelu'])} |" for name, t in steps.items()]
    return note + "\n".join(lines) + "\n"


def kernels_table(runs):
    cells = collections.defaultdict(dict)
    columns = []
    for _, bench in benchmarks_of(runs, "kernels"):
        params = bench["params"]
        column = (params["dtype"], params["pass_"])
        columns.append(column)
        cells[params["table_row"]][column] = _median(bench) * 1e9 / bench["extra_info"]["elements"]
    columns = list(dict.fromkeys(columns))
    lines = [
        "| activation | " + " | ".join(f"{dtype} {pass_}" for dtype, pass_ in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    lines += [f"| {row} | " + " | ".join(f"{t[c]:.3f}" for c in columns) + " |" for row, t in sorted(cells.items())]
    return "\n".join(lines) + "\n"


def backend_rows(runs):
    """{backend: {(size, activation, pass): {peer: benchmark}}} and
    {backend: {peer: benchmark}} of the overhead per call."""
    passes, overhead = collections.defaultdict(dict), collections.defaultdict(dict)
    for module in ("jax", "torch"):
        for _, bench in benchmarks_of(runs, module):
            info, params = bench["extra_info"], bench["params"]
            if "overhead" in bench["name"]:
                overhead[info["backend"]][info["peer"]] = bench
            else:
                key = (tuple(params["size"]), params["activation"], params["pass_"])
                passes[info["backend"]].setdefault(key, {})[info["peer"]] = bench
    return passes, overhead


def backends_table(runs):
    passes, overhead = backend_rows(runs)
    lines = [
        "| backend | size (float32) | activation | pass | " + "implementation | ms | spread | vs fused |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, keyed in passes.items():
        for (size, activation, pass_), peers in sorted(keyed.items(), key=lambda i: (_elements(i[0][0]), i[0][1:])):
            fused = next(b for peer, b in peers.items() if peer.startswith("fused"))
            for peer, bench in peers.items():
                lines.append(
                    f"| {backend} | {size_id(size)} | {activation} | {pass_} | {peer} | {_ms(_median(bench))} | "
                    f"{_spread(bench):.0%} | {_median(bench) / _median(fused):.2f}x |"
                )
    lines += ["", "Host overhead of one call, x 1x4x4, relu:", "", "| backend | implementation | µs per call |"]
    lines.append("|---|---|---|")
    for backend, peers in overhead.items():
        lines += [f"| {backend} | {peer} | {_median(bench) * 1e6:.1f} |" for peer, bench in peers.items()]
    return "\n".join(lines) + "\n"


def keras_model_table(runs):
    lines = ["| backend | layers, mode | ms per train_on_batch | spread |", "|---|---|---|---|"]
    for _, bench in benchmarks_of(runs, "keras_model"):
        info = bench["extra_info"]
        lines.append(f"| {info['backend']} | {info['peer']} | {_ms(_median(bench))} | {_spread(bench):.0%} |")
    return "\n".join(lines) + "\n"


def backends_plot(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    passes, _ = backend_rows(runs)
    figure, axes = plt.subplots(1, len(passes), figsize=(6 * len(passes), 4), squeeze=False)
    for axis, (backend, keyed) in zip(axes[0], passes.items()):
        size = min((k[0] for k in keyed), key=_elements)
        keys = sorted(k for k in keyed if k[0] == size)
        peers = list(dict.fromkeys(peer for k in keys for peer in keyed[k]))
        width = 0.8 / len(peers)
        for i, peer in enumerate(peers):
            heights = [_median(keyed[k][peer]) * 1e3 for k in keys]
            axis.bar(np.arange(len(keys)) + i * width, heights, width, label=peer)
        axis.set_xticks(np.arange(len(keys)) + 0.4 - width / 2, [f"{k[1]}\n{k[2]}" for k in keys])
        axis.set_ylabel("ms (lower is better)")
        axis.set_title(f"{backend}, x {size_id(size)} float32")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


# ---- the summary: the fused op against each framework's compiler ----


def compiler_rows(runs):
    """(backend, compiler, size, activation, pass, fused seconds, compiler
    seconds) per backend, size, activation and pass: on TensorFlow the two
    largest sizes, unreduced; on PyTorch the fused op eager."""
    rows = []
    _, times, *_ = tensorflow_times(runs)
    largest = sorted({key[0] for key in times}, key=_elements)[-2:]  # a model layer's size and the largest
    for (size, pass_, activation, reduce_axis), t in times.items():
        if reduce_axis is None and size in largest:
            rows.append(("tensorflow", "XLA", size, activation, pass_.replace("_", " "), t["fused"], t["xla"]))
    compilers = {
        "jax": ("jax.jit", "fused, jax.jit", "composite, jax.jit"),
        "torch": ("torch.compile", "fused, eager", "composite, torch.compile"),
    }
    for backend, keyed in backend_rows(runs)[0].items():
        name, fused_peer, compiler_peer = compilers[backend]
        for (size, activation, pass_), peers in keyed.items():
            rows.append(
                (backend, name, size, activation, pass_, _median(peers[fused_peer]), _median(peers[compiler_peer]))
            )
    backends = ("tensorflow", "jax", "torch")
    return sorted(rows, key=lambda row: (backends.index(row[0]), _elements(row[2]), row[3], row[4]))


def compiler_summary(runs):
    """The fused op's time and the compiler's (XLA, jax.jit, torch.compile)
    over it, then the host overhead of one call."""
    lines = [
        "| backend | compiler | size (float32) | activation | pass | fused ms | compiler ms | compiler / fused |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for backend, compiler, size, activation, pass_, fused, compiled in compiler_rows(runs):
        lines.append(
            f"| {backend} | {compiler} | {size_id(size)} | {activation} | {pass_} | {_ms(fused)} | {_ms(compiled)} | "
            f"{compiled / fused:.2f}x |"
        )
    for backend, peers in backend_rows(runs)[1].items():
        fused = next(b for peer, b in peers.items() if peer.startswith("fused"))
        composite = next(b for peer, b in peers.items() if peer.startswith("composite"))
        lines.append(
            f"| {backend} | (host overhead, µs per call, x 1x4x4) | 1x4x4 | relu | forward | "
            f"{_median(fused) * 1e6:.1f} µs | {_median(composite) * 1e6:.1f} µs | "
            f"{_median(composite) / _median(fused):.2f}x |"
        )
    return "\n".join(lines) + "\n"


def readme_summary(runs):
    """The compiler rows folded for the README: per backend and size, the
    compiler's time over the fused time for each activation and pass."""
    ratios = collections.defaultdict(dict)
    for backend, compiler, size, activation, pass_, fused, compiled in compiler_rows(runs):
        ratios[(f"{backend} ({compiler})", size_id(size))][(activation, pass_)] = f"{compiled / fused:.2f}x"
    columns = [(a, p) for a in ("relu", "gelu") for p in ("forward", "training step")]
    lines = [
        "| backend (compiler) | x (float32) | " + " | ".join(f"{a} {p}" for a, p in columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for (backend, size), cells in ratios.items():
        lines.append(f"| {backend} | {size} | " + " | ".join(cells.get(c, "") for c in columns) + " |")
    return "\n".join(lines) + "\n"


# ---- writing ----

DETAILS = {
    "tensorflow.md": "TensorFlow: the fused op against eager, tf.function and XLA, with the floors",
    "against_xla.md": "Every activation against XLA, with each CPU allocator and CPU build",
    "first_touch.md": "Fresh outputs: page faults and time of a process' first call and later ones",
    "xla_step.md": "Training steps compiled with XLA",
    "kernels.md": "The kernels alone, in cache, one thread: ns per element",
    "backends.md": "JAX and PyTorch front-ends against their compilers, and the Keras model",
    "peak_memory.md": "Peak memory of a training step",
    "accuracy.md": "Accuracy of the transcendental activations in float32 ulps",
}


def render(runs, results, out, readme):
    floors, times, halves, every, adds = tensorflow_times(runs)
    details = {
        "tensorflow.md": (
            "Medians of pytest-benchmark rounds (`benchmarks/test_bench_tensorflow.py`). '/ floor': the fused time "
            "over the time to stream the bytes the pass must move at the bandwidth of a large copy measured in the "
            "same run; '/ (floor + fill)' adds the tape's own fill of its first gradient, `tf.ones_like(y)`; "
            "'/ tf.add': over one eager `tf.add(x, kernel)` of the same pass (TensorFlow's cost of one op); 'vs "
            "peer': the peer's time over the fused time.\n\n"
            + tensorflow_table(floors, times, adds)
            + "\n## Reduced forward against a pure read (`tf.reduce_sum(x)`)\n\n"
            + read_table(floors, times)
            + (f"\n## Half types\n\n{half_table(halves, times)}" if halves else "")
            + (f"\n## Every activation against its floor\n\n{every_table(floors, every)}" if every else "")
        ),
        "against_xla.md": "`benchmarks/test_bench_against_xla.py`, medians; faults: minor page faults per call.\n\n"
        + against_xla_table(runs),
        "first_touch.md": "`benchmarks/test_bench_first_touch.py`, relu, unreduced.\n\n" + first_touch_table(runs),
        "xla_step.md": "`benchmarks/test_bench_xla_step.py`, medians.\n\n" + xla_step_table(runs),
        "kernels.md": "`benchmarks/test_bench_kernels.py`, medians.\n\n" + kernels_table(runs),
        "backends.md": "`benchmarks/test_bench_jax.py` and `test_bench_torch.py`, medians; spread: interquartile "
        "range over the median.\n\n"
        + backends_table(runs)
        + "\n## A Keras model on each backend (`benchmarks/test_bench_keras_model.py`)\n\n"
        + keras_model_table(runs),
    }
    for name, body in details.items():
        (results / name).write_text(f"# {DETAILS[name]}\n\n{machine(runs)}.\n\n{body}")
    for name in ("peak_memory.md", "accuracy.md"):
        if (results / name).exists() and not (results / name).read_text().startswith("# "):
            (results / name).write_text(f"# {DETAILS[name]}\n\n" + (results / name).read_text())
    tensorflow_plot(times, results / "speedup.png")
    backends_plot(runs, results / "backends.png")
    relative = os.path.relpath(results, Path(out).parent)
    summary = compiler_summary(runs)
    links = "\n".join(f"- [{title}]({relative}/{name})" for name, title in DETAILS.items())
    gpu = ROOT / "benchmarks" / "gpu" / "last_gpu_benchmark.md"
    Path(out).write_text(
        "# Benchmarks\n\n"
        "Generated by `benchmarks/report.py` from the pytest-benchmark JSON in "
        f"`{relative}/`; rerun with `.venv/bin/python benchmarks/report.py` after "
        "`bash scripts/setup.sh`.\n\n"
        f"Machine: {machine(runs)}.\n\n"
        "## The fused op against each framework's compiler (CPU)\n\n"
        "'compiler / fused' above 1: the fused op is faster. Whole calls from Python to a ready result; on "
        "PyTorch the fused op runs eager. TensorFlow runs with its default CPU allocator here (the allocator "
        "section below compares the others).\n\n"
        + summary
        + f"\n![TensorFlow: speed-up against size]({relative}/speedup.png)\n"
        + f"\n![JAX and PyTorch: fused against composite]({relative}/backends.png)\n"
        + "\n## Every activation against XLA, per CPU build and allocator\n\n"
        + against_xla_summary(runs)
        + "\n## A Keras model per backend\n\n"
        + keras_model_table(runs)
        + f"\n## Details\n\n{links}\n"
        + (
            f"- [GPU]({os.path.relpath(gpu, Path(out).parent)}), from `scripts/gpu/run_on_gpu.sh`\n"
            if gpu.exists()
            else ""
        )
    )
    if readme:
        text = Path(readme).read_text()
        start, end = text.index(SUMMARY_START) + len(SUMMARY_START), text.index(SUMMARY_END)
        block = f"\nMeasured on {machine(runs)}; details in [BENCHMARKS.md](BENCHMARKS.md).\n\n{readme_summary(runs)}\n"
        Path(readme).write_text(text[:start] + block + text[end:])
    print(f"wrote {out} and the tables in {results}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", help="measure only the sessions whose name starts with one of these")
    parser.add_argument("--render", action="store_true", help="render the saved JSON only")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one call each (CI's smoke run)")
    parser.add_argument("--results", default=str(HERE / "results"))
    parser.add_argument("--out", help="the summary (default BENCHMARKS.md; with --quick, RESULTS/BENCHMARKS.md)")
    args = parser.parse_args()
    if args.quick:
        os.environ["SPATIAL_OPS_BENCH_QUICK"] = "1"  # for the sessions and the scripts alike
    results = Path(args.results).resolve()  # pytest runs elsewhere
    results.mkdir(parents=True, exist_ok=True)
    out = Path(args.out or (results / "BENCHMARKS.md" if args.quick else ROOT / "BENCHMARKS.md"))
    if not args.render:
        for name, (modules, environment, selection) in sessions(args.quick).items():
            if args.only and not any(name.startswith(prefix) for prefix in args.only):
                continue
            run_session(name, modules, environment, selection, results, args.quick)
        if not args.only or any(p in ("peak_memory", "accuracy") for p in args.only):
            run_scripts(results, args.quick)
    render(load(results), results, out, readme=None if args.quick else ROOT / "README.md")


if __name__ == "__main__":
    started = datetime.datetime.now()
    main()
    print(f"in {(datetime.datetime.now() - started).total_seconds():.0f} s")
