"""Runs the CPU benchmark suite and writes BENCHMARKS.md (a table of every
time as a ratio to the streaming floor and to each composite peer) and
benchmarks/speedup.png (fused speed-up against size).

    .venv/bin/python benchmarks/report.py            # full run, 7 to 16 minutes on 2 cores (the machine's load varies)
    .venv/bin/python benchmarks/report.py --json run.json   # re-render a saved run

A full run also measures training-step peak memory (benchmarks/peak_memory.py)
and each activation's compute cost (benchmarks/activation_cost.py), and keeps
their tables in benchmarks/last_peak_memory.md and last_activation_cost.md for
re-rendering; and, committed, the tables of benchmarks/first_touch.py
(last_first_touch.md), against_xla.py in the AVX2 build and the widest
(last_against_xla.md: AVX2 forced where the CPU has a wider one), xla_step.py (last_xla_step.md), accuracy.py
(last_accuracy.md) and
backends.py (last_backends.md, with its plot backends.png). The GPU section is benchmarks/gpu/last_gpu_benchmark.md, the
latest run of scripts/gpu/run_on_gpu.sh on a GPU machine, as committed.

The floor is the bytes a pass must move over the bandwidth of a large copy
measured in the same run: forward reads x and writes y; a training step also
reads dy and x again and writes dx. A tape writes dy itself (tf.ones_like(y)),
timed alone as the 'fill'.
"""

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ("eager", "tf.function", "xla")


def run_suite(json_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "benchmarks"),
            "--benchmark-only",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--benchmark-json={json_path}",
        ],
        check=True,
        env=env,
        cwd=tempfile.gettempdir(),
    )


def parse(json_path):
    data = json.loads(Path(json_path).read_text())
    copies, reads, fills, adds, times = {}, {}, {}, {}, collections.defaultdict(dict)
    halves, every = collections.defaultdict(dict), {}
    for bench in data["benchmarks"]:
        params, median = bench["params"], bench["stats"]["median"]
        if bench["name"].startswith("test_fused_every_activation"):
            every[(tuple(params["size"]), params["table_row"], params["pass_"], params["reduce_axis"])] = median
            continue
        if bench["name"].startswith("test_fused_half_types"):
            halves[_pass_key(params)][params["dtype"]] = median
            continue
        if bench["name"].startswith("test_copy_floor"):
            copies[tuple(params["size"])] = median
            continue
        if bench["name"].startswith("test_read_floor"):
            reads[tuple(params["size"])] = median
            continue
        if bench["name"].startswith("test_tape_fill"):
            fills[tuple(params["size"])] = median
            continue
        if bench["name"].startswith("test_one_tf_add"):
            adds[(tuple(params["size"]), params["pass_"])] = median
            continue
        times[_pass_key(params)][params["implementation"]] = median
    return data, copies, reads, fills, adds, times, halves, every


def _pass_key(params):
    """(size, pass, activation, reduce_axis) of a timed pass."""
    return tuple(params["size"]), params["pass_"], params["activation"], params["reduce_axis"]


def floor_seconds(size, pass_, reduce_axis, copy_seconds):
    """Bytes moved over the copy's bandwidth, in units of x."""
    out = 1.0 / size[-1] if reduce_axis == -1 else 1.0  # y relative to x
    x_units = 1 + out if pass_ == "forward" else (1 + out) + (out + 2)
    return copy_seconds * x_units / 2  # the copy moved 2 x


def machine(data):
    info = data.get("machine_info", {})
    cpu = info.get("cpu", {}).get("brand_raw") or platform.processor()
    import tensorflow as tf  # noqa: PLC0415 (only for the version string)

    from spatial_ops import _core  # noqa: PLC0415

    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, TensorFlow "
        f"{tf.__version__}, spatial_ops CPU build: {_core.active_cpu_isa()}"
    )


def table(copies, fills, adds, times):
    head = (
        "| size (float32) | pass | activation | reduce | fused ms | / floor | / (floor + fill) | / tf.add | "
        "vs eager | vs tf.function | vs XLA |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    order = lambda item: (_elements(item[0][0]), item[0][1], item[0][2], str(item[0][3]))
    for (size, pass_, activation, reduce_axis), t in sorted(times.items(), key=order):
        fused = t["fused"]
        floor = floor_seconds(size, pass_, reduce_axis, copies[size])
        with_fill = ""
        if pass_ == "training_step" and reduce_axis is None and size in fills:
            with_fill = f"{fused / (floor + fills[size]):.2f}"
        peers = " | ".join(f"{t[p] / fused:.2f}x" for p in PEERS)
        add = adds.get((size, pass_))
        rows.append(
            f"| {'x'.join(map(str, size))} | {pass_} | {activation} | {reduce_axis} | "
            f"{fused * 1e3:.3f} | {fused / floor:.2f} | {with_fill} | "
            f"{'' if add is None else f'{fused / add:.2f}'} | {peers} |"
        )
    return head + "\n".join(rows) + "\n"


def read_table(copies, reads, times):
    """Reduced forwards against a pure read of x (tf.reduce_sum, all cores)."""
    rows = [
        "| size (float32) | copy ms | read ms | activation | fused reduced forward ms | / read | XLA / read |",
        "|---|---|---|---|---|---|---|",
    ]
    for (size, pass_, activation, reduce_axis), t in sorted(times.items(), key=lambda i: (_elements(i[0][0]), i[0][2])):
        if pass_ != "forward" or reduce_axis is None or size not in reads:
            continue
        read = reads[size]
        rows.append(
            f"| {'x'.join(map(str, size))} | {copies[size] * 1e3:.3f} | {read * 1e3:.3f} | {activation} | "
            f"{t['fused'] * 1e3:.3f} | {t['fused'] / read:.2f} | {t['xla'] / read:.2f} |"
        )
    return "\n".join(rows) + "\n"


def half_table(halves, times):
    """Fused half-type times over the fused float32 time of the same pass:
    the same elements, so the ratio of their times per element."""
    rows = [
        "| size | pass | activation | reduce | float32 ms | float16 ms | bfloat16 ms | float16 / float32 "
        "| bfloat16 / float32 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, t in sorted(halves.items(), key=lambda i: (i[0][1], i[0][2], str(i[0][3]))):
        size, pass_, activation, reduce_axis = key
        f32 = times[key]["fused"]
        rows.append(
            f"| {'x'.join(map(str, size))} | {pass_} | {activation} | {reduce_axis} | {f32 * 1e3:.3f} | "
            f"{t['float16'] * 1e3:.3f} | {t['bfloat16'] * 1e3:.3f} | {t['float16'] / f32:.2f} | "
            f"{t['bfloat16'] / f32:.2f} |"
        )
    return "\n".join(rows) + "\n"


def every_table(copies, reads, fills, every):
    """Each fused activation's forward and training step over its floor."""
    rows = [
        "| size | activation | forward / floor | reduced forward / read | training step / floor "
        "| / (floor + fill) | reduced training step / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, table_row in sorted({(k[0], k[1]) for k in every}, key=lambda k: (_elements(k[0]), k[1])):
        t = lambda pass_, reduce_axis: every[(size, table_row, pass_, reduce_axis)]  # noqa: E731
        floor = lambda pass_, reduce_axis: floor_seconds(size, pass_, reduce_axis, copies[size])  # noqa: E731
        step = t("training_step", None)
        rows.append(
            f"| {'x'.join(map(str, size))} | {table_row} | "
            f"{t('forward', None) / floor('forward', None):.2f} | "
            f"{t('forward', -1) / reads[size]:.2f} | {step / floor('training_step', None):.2f} | "
            f"{step / (floor('training_step', None) + fills[size]):.2f} | "
            f"{t('training_step', -1) / floor('training_step', -1):.2f} |"
        )
    return "\n".join(rows) + "\n"


def _elements(size):
    n = 1
    for s in size:
        n *= s
    return n


def plot(times, path):
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, pass_ in zip(axes, ("forward", "training_step")):
        for (activation, reduce_axis), marker in zip(sorted({(k[2], k[3]) for k in times}, key=str), "osd^v<>"):
            for peer, style in zip(PEERS, ("-", "--", ":")):
                keys = sorted(
                    (k for k in times if k[1] == pass_ and k[2] == activation and k[3] == reduce_axis),
                    key=lambda k: _elements(k[0]),
                )
                sizes = [_elements(k[0]) * 4 / 2**20 for k in keys]
                speedups = [times[k][peer] / times[k]["fused"] for k in keys]
                ax.plot(sizes, speedups, style, marker=marker, label=f"{activation}, reduce {reduce_axis}, vs {peer}")
        ax.axhline(1.0, color="gray", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("x size (MiB, float32)")
        ax.set_title(pass_.replace("_", " "))
    axes[0].set_ylabel("speed-up of the fused op (peer time / fused time)")
    axes[1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", help="render this pytest-benchmark JSON instead of running the suite")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = parser.parse_args()
    json_path = args.json or str(ROOT / "benchmarks" / "last_run.json")
    memory_path = ROOT / "benchmarks" / "last_peak_memory.md"
    cost_path = ROOT / "benchmarks" / "last_activation_cost.md"
    gpu_path = ROOT / "benchmarks" / "gpu" / "last_gpu_benchmark.md"  # committed: no GPU here
    backends_path = ROOT / "benchmarks" / "last_backends.md"
    first_touch_path = ROOT / "benchmarks" / "last_first_touch.md"
    against_xla_path = ROOT / "benchmarks" / "last_against_xla.md"
    xla_step_path = ROOT / "benchmarks" / "last_xla_step.md"
    accuracy_path = ROOT / "benchmarks" / "last_accuracy.md"
    if not args.json:
        run_suite(json_path)
        sys.path.insert(0, str(ROOT / "benchmarks"))
        import accuracy  # noqa: PLC0415, E401
        import activation_cost
        import against_xla
        import backends
        import first_touch
        import peak_memory
        import xla_step
        from activation_rows import every_activation  # noqa: PLC0415

        from spatial_ops import _core  # noqa: PLC0415

        avx2 = "avx2" if "avx2" in _core.supported_cpu_isas() else None  # x86-64 with AVX2 and wider
        memory_path.write_text(peak_memory.table((1024, 256, 256)))
        first_touch_path.write_text(first_touch.table((1024, 256, 256)))
        names = [name for name, _ in every_activation()]
        builds = [avx2] + ([None] if avx2 and _core.active_cpu_isa() != "avx2" else [])  # AVX2, then the widest
        against_xla_path.write_text(
            "\n".join(against_xla.table((1024, 256, 256), names, rounds=5, isa=isa) for isa in builds)
        )
        xla_step_path.write_text(xla_step.table((256, 128, 128)))
        accuracy_path.write_text(accuracy.table())
        cost_path.write_text(activation_cost.table())
        measured = {backend: backends.measure_in_child(backend, backends.SIZE) for backend in backends.ROWS}
        backends_path.write_text(backends.table(backends.SIZE, measured))
        backends.plot(measured, ROOT / "benchmarks" / "backends.png")
    data, copies, reads, fills, adds, times, halves, every = parse(json_path)
    plot(times, ROOT / "benchmarks" / "speedup.png")
    Path(args.out).write_text(
        "# Benchmarks (CPU)\n\n"
        f"Machine: {machine(data)}. Run on {data.get('datetime', '')[:10]}.\n\n"
        "Redo with `.venv/bin/python benchmarks/report.py` (after `bash scripts/setup.sh`). "
        "Medians of pytest-benchmark rounds, all measured side by side in one run. "
        "'/ floor' is the fused time over the time to stream the bytes the pass must move at "
        "the bandwidth of a large copy measured in the same run; 'vs peer' is the peer's time "
        "over the fused time (above 1: the fused op is faster). Peers run the same math as "
        "TensorFlow composites (`spatial_ops.reference`) in eager mode, in `tf.function`, and "
        "under XLA (`jit_compile=True`). The copy (`tf.raw_ops.DeepCopy`) writes with normal "
        "stores, which read each line before overwriting it; the fused op writes outputs of 8 MB "
        "and more with non-temporal stores, which do not, so its '/ floor' can fall below 1.\n\n"
        + "'/ tf.add' is the fused time over one eager `tf.add(x, kernel)` of the same pass "
        "(for a training step: under the same `GradientTape`), TensorFlow's own cost of one op: "
        "at tiny sizes, its dispatch.\n\n"
        + "'/ (floor + fill)', for training steps with an unreduced y: over the floor plus the "
        "tape's own fill of the gradient it starts from, `tf.ones_like(y)`, an x-sized write that every "
        "implementation's step pays and the floor does not count (`tf.ones_like(x)`, measured in the "
        "same run).\n\n"
        + table(copies, fills, adds, times)
        + "\n![speed-up against size](benchmarks/speedup.png)\n"
        + (
            "\n## Reduced forward against a pure read\n\nA reduced forward reads x and writes almost "
            "nothing, so no kernel can beat a pure read of x: `tf.reduce_sum(x)` on every core, measured "
            "in the same run (here reads stream faster than a copy's combined read + write rate, so this "
            "floor is below the copy-based one above). 'XLA / read' bounds the speed-up over XLA any "
            "kernel could reach.\n\n" + read_table(copies, reads, times)
            if reads
            else ""
        )
        + (
            "\n## Half types\n\nThe fused op on float16 and bfloat16 x of the largest size, in the same run "
            "as the float32 rows above: the ratio is the time per element against float32's (half the bytes "
            "to move; the math runs in float32).\n\n" + half_table(halves, times)
            if halves
            else ""
        )
        + (
            "\n## Every activation\n\nEach fused activation at the largest size, float32, in the same run "
            "(reduced: over the last axis), against the floors above: the copy-based floor, the pure read "
            "for the reduced forward, and the floor plus the tape's fill for the unreduced training step.\n\n"
            + every_table(copies, reads, fills, every)
            if every
            else ""
        )
        + (
            "\n## Peak memory\n\nMeasured by `benchmarks/peak_memory.py` (how, in its docstring).\n\n"
            + memory_path.read_text()
            if memory_path.exists()
            else ""
        )
        + (
            "\n## Fresh outputs: page faults with each CPU allocator\n\nMeasured by `benchmarks/first_touch.py` "
            "(how, in its docstring; the allocators in `benchmarks/tf_allocators.py`): the fused relu forward "
            "and training step, the first call of a process and later ones. The kernels ask for huge pages "
            "on the outputs they write in full (`csrc/cpu/huge_pages.h`), so a fresh 256 MB y takes 128 "
            "faults of 2 MB, not 65,536 of 4 KB; what stays is the kernel zeroing the fresh pages, which "
            "only an allocator that reuses memory (oneDNN's pool, BFC) avoids.\n\n" + first_touch_path.read_text()
            if first_touch_path.exists()
            else ""
        )
        + (
            "\n## Every activation against XLA\n\nMeasured by `benchmarks/against_xla.py --isa avx2` "
            "(how, in its docstring): the AVX2 build of the kernels (forced where the CPU has a wider one) "
            "against the XLA composite capped at AVX2, then, where the CPU has a wider build, that build "
            "against XLA uncapped (`benchmarks/against_xla.py`); with each CPU allocator, the page faults of "
            "each call beside its time.\n\n" + against_xla_path.read_text()
            if against_xla_path.exists()
            else ""
        )
        + (
            "\n## Accuracy of the transcendental activations\n\nMeasured by `benchmarks/accuracy.py` (how, in its "
            "docstring): the largest error in float32 ulps of the fused kernels, of XLA and of TensorFlow's own "
            "kernels. The far negative tails of gelu and gelu_tanh are ill-conditioned in float32 (the rounding "
            "of z / sqrt(2), or of u, moves the result by many ulps), for every implementation alike.\n\n"
            + accuracy_path.read_text()
            if accuracy_path.exists()
            else ""
        )
        + (
            "\n## Under XLA (jit_compile=True)\n\nMeasured by `benchmarks/xla_step.py` (how, in its docstring): "
            "jit-compiled training steps with the op as a custom call of its kernels, against the composite "
            "XLA fuses itself and against the fused op without XLA; then a Keras model compiled with XLA. Peak "
            "memory of a step compiled whole with XLA: the third table of the peak memory section.\n\n"
            + xla_step_path.read_text()
            if xla_step_path.exists()
            else ""
        )
        + (
            "\n## Compute cost per activation\n\nMeasured by `benchmarks/activation_cost.py` (how, in its "
            "docstring): the kernels alone on data in cache, so the cost of the math apart from "
            "memory traffic.\n\n" + cost_path.read_text()
            if cost_path.exists()
            else ""
        )
        + (
            "\n## Keras backends: JAX and PyTorch\n\nMeasured by `benchmarks/backends.py` (how, in its "
            "docstring): each backend's front-end against that backend's own composite of the same math, "
            "in a process of its own.\n\n"
            + backends_path.read_text()
            + "\n![fused against composite per backend](benchmarks/backends.png)\n"
            if backends_path.exists()
            else ""
        )
        + ("\n# Benchmarks (GPU)\n\n" + gpu_path.read_text() if gpu_path.exists() else "")
    )
    print(f"wrote {args.out} and benchmarks/speedup.png")


if __name__ == "__main__":
    main()
