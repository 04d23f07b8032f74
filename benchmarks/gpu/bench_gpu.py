"""GPU benchmark: the fused CUDA kernels (spatial_ops._core on PyTorch
tensors) against the same math composed in PyTorch, eager and under
torch.compile, with a device-to-device copy of x as the streaming floor, all
measured in one run on one device. Every result is checked against the
float64 composite before it is timed. A benchmark, not a test: it reports
measured times and ratios, and which of the targets they meet.

    python benchmarks/gpu/bench_gpu.py                 # builds _core first (scripts/gpu/build_core.sh)
    python benchmarks/gpu/bench_gpu.py --core build/gpu/_core....so --out results/
    python benchmarks/gpu/bench_gpu.py --dry-run       # the plan only: no GPU, no PyTorch

Writes gpu_benchmark.md (the table, with the device's name) and
gpu_benchmark.json to --out."""

import argparse
import importlib.machinery
import importlib.util
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "gpu"))
from gpu_support import TOLERANCES  # noqa: E402  (the tests' per-dtype tolerances)

# Targets at and above TARGET_BYTES of float32 x: a fraction of the copy's
# bandwidth, and speed-ups over the composites.
TARGET_BYTES = 256 * 2**20
TARGETS = {"forward": 0.90, "training step": 0.80}
TARGET_OVER_EAGER, TARGET_OVER_COMPILE = 2.5, 1.0
FUSED_ROWS = {"relu": "relu", "gelu": "gelu", "silu": "silu", "sigmoid": "sigmoid", "tanh": "tanh"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--core", help="built _core*.so (default: build it with scripts/gpu/build_core.sh)")
    parser.add_argument("--out", default=str(ROOT / "build" / "gpu-results"), help="folder for the results")
    parser.add_argument("--sizes", default="256x128x128,1024x256x256",
                        help="comma-separated BxHxW (x is (B, H, W); 1024x256x256 float32 is 256 MiB)")
    parser.add_argument("--activations", default="relu,gelu", help=f"comma-separated, of {sorted(FUSED_ROWS)}")
    parser.add_argument("--reduce", default="none,-1", help="comma-separated: none (elementwise) and/or -1 (sum over W)")
    parser.add_argument("--dtype", default="float32", choices=sorted(TOLERANCES))
    parser.add_argument("--repeat", type=int, default=15, help="timed samples per measurement (median)")
    parser.add_argument("--calls", type=int, default=10, help="back-to-back calls per timed sample")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile (it compiles per shape)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    args = parser.parse_args(argv)
    args.sizes = [tuple(int(d) for d in s.split("x")) for s in args.sizes.split(",")]
    args.activations = args.activations.split(",")
    unknown = set(args.activations) - set(FUSED_ROWS)
    if unknown or any(len(s) != 3 for s in args.sizes):
        parser.error(f"unknown activations {sorted(unknown)} or sizes not BxHxW: {args.sizes}")
    args.reduce = [None if r == "none" else int(r) for r in args.reduce.split(",")]
    if any(r not in (None, -1) for r in args.reduce):
        parser.error("--reduce takes none and -1")
    return args


def plan(args):
    return [(size, activation, reduce) for size in args.sizes for activation in args.activations
            for reduce in args.reduce]


def item_size(dtype):
    return {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}[dtype]


def load_core(path):
    if path is None:
        path = subprocess.run(["bash", str(ROOT / "scripts" / "gpu" / "build_core.sh")], check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1]
    loader = importlib.machinery.ExtensionFileLoader("_core", path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("_core", loader))
    loader.exec_module(module)
    return module


class Bench:
    """One configuration: operands, the three implementations, their checks and times."""

    def __init__(self, torch, core, args, size, activation, reduce):
        self.torch, self.core, self.args = torch, core, args
        self.size, self.activation, self.reduce = size, activation, reduce
        import torch.nn.functional as F
        self.fn = {"relu": torch.relu, "gelu": F.gelu, "silu": F.silu, "sigmoid": torch.sigmoid,
                   "tanh": torch.tanh}[activation]
        dtype = getattr(torch, args.dtype)
        generator = torch.Generator(device="cuda").manual_seed(0)
        batch, height, width = size
        make = lambda *shape: torch.randn(shape, device="cuda", dtype=dtype, generator=generator)  # noqa: E731
        self.x, self.kernel, self.bias = make(batch, height, width), make(height, width), make(height, width)
        self.dy = make(*self.out_shape())
        self.reduction = "none" if reduce is None else "sum"
        # The canonical view: x [B, A, R, C] with the reduced W as R.
        self.x4 = self.x.view(batch, height, width, 1)
        self.k3, self.b3 = self.kernel.view(height, width, 1), self.bias.view(height, width, 1)
        self.y = torch.empty(self.out_shape(), device="cuda", dtype=dtype)
        self.grads = [torch.empty_like(t) for t in (self.x, self.kernel, self.bias)]

    def out_shape(self):
        return self.size if self.reduce is None else self.size[:2]

    def composite(self, x, kernel, bias):
        y = self.fn(x * kernel + bias)
        return y if self.reduce is None else y.sum(dim=-1)

    # ---- the implementations: forward, and forward + backward ----
    def canonical_out(self, tensor):
        """y or dy as the kernels see it: [B, A, R, C] = (B, H, W, 1), or
        [B, A, C] = (B, H, 1) with the sum over W."""
        return tensor.view(*self.out_shape(), 1)

    def fused_forward(self):
        self.core.forward(self.x4, self.k3, self.b3, FUSED_ROWS[self.activation], [], self.reduction,
                          out=self.canonical_out(self.y))
        return self.y

    def fused_training_step(self):
        self.fused_forward()
        dy = self.canonical_out(self.dy)
        dx, dk, db = self.grads
        self.core.backward(dy, self.x4, self.k3, self.b3, FUSED_ROWS[self.activation], [], self.reduction,
                           out=(dx.view_as(self.x4), dk.view_as(self.k3), db.view_as(self.b3)))
        return self.grads

    def composite_forward(self, fn):
        return lambda: fn(self.x, self.kernel, self.bias)

    def composite_training_step(self, fn):
        leaves = [t.detach().requires_grad_() for t in (self.x, self.kernel, self.bias)]

        def step():
            return self.torch.autograd.grad(fn(*leaves), leaves, self.dy)
        return step

    # ---- checks against the float64 composite ----
    def reference(self):
        torch = self.torch
        leaves = [t.double().requires_grad_() for t in (self.x, self.kernel, self.bias)]
        y = self.composite(*leaves)
        return [y.detach()] + list(torch.autograd.grad(y, leaves, self.dy.double()))

    def relative_errors(self, results, reference):
        return [float((r.double() - e).norm() / e.norm()) for r, e in zip(results, reference)]

    # ---- timing ----
    def time_ms(self, fn):
        """Median over --repeat samples of the time per call, each sample
        --calls back-to-back calls between two events: the host queues ahead,
        so what is timed is the GPU's work, not an idle GPU waiting for it."""
        torch = self.torch
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(self.args.repeat):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(self.args.calls):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / self.args.calls)
        return statistics.median(times)

    def bytes(self, pass_):
        """Bytes the pass must move: forward reads x and the weights and writes
        y; the backward reads dy, x and the weights and writes dx, dkernel, dbias."""
        size = item_size(self.args.dtype)
        x = self.x.numel() * size
        weights = 2 * self.kernel.numel() * size
        y = self.y.numel() * size
        forward = x + weights + y
        return forward if pass_ == "forward" else forward + (y + x + weights) + (x + weights)


def run(args):
    import torch

    core = load_core(args.core)
    device = torch.cuda.get_device_name()
    print(f"device: {device}; torch {torch.__version__}, CUDA {torch.version.cuda}; dtype {args.dtype}")
    rows, failures = [], []
    for size, activation, reduce in plan(args):
        bench = Bench(torch, core, args, size, activation, reduce)
        # Dynamo caches compiled graphs per code object, and every
        # configuration runs Bench.composite: past its recompile limit it
        # would quietly run the composite eagerly. Each starts afresh.
        torch._dynamo.reset()
        compiled = None if args.no_compile else torch.compile(bench.composite)
        reference = bench.reference()
        tol = TOLERANCES[args.dtype]
        copy_destination = torch.empty_like(bench.x)
        copy_ms = bench.time_ms(lambda: copy_destination.copy_(bench.x))
        copy_bandwidth = 2 * bench.x.numel() * item_size(args.dtype) / copy_ms / 1e6  # GB/s
        for pass_ in ("forward", "training step"):
            if pass_ == "forward":
                fused, eager = bench.fused_forward, bench.composite_forward(bench.composite)
                compile_step = compiled and bench.composite_forward(compiled)
                results = [fused()]
            else:
                fused, eager = bench.fused_training_step, bench.composite_training_step(bench.composite)
                compile_step = compiled and bench.composite_training_step(compiled)
                results = [bench.fused_forward().clone(), *fused()]
            errors = bench.relative_errors(results, reference)
            checked = all(e <= tol for e in errors)
            row = {"size": "x".join(map(str, size)), "activation": activation,
                   "reduce": "none" if reduce is None else str(reduce), "pass": pass_,
                   "x_MiB": bench.x.numel() * item_size(args.dtype) / 2**20,
                   "copy_GBps": copy_bandwidth, "max_rel_error": max(errors), "checked": checked,
                   "fused_ms": bench.time_ms(fused), "eager_ms": bench.time_ms(eager), "compile_ms": None}
            if compile_step:
                try:
                    row["compile_ms"] = bench.time_ms(compile_step)
                except Exception as error:  # no Triton, an unsupported GPU, ...
                    row["compile_error"] = f"{type(error).__name__}: {error}"[:200]
            row["fused_GBps"] = bench.bytes(pass_) / row["fused_ms"] / 1e6
            row["of_copy"] = row["fused_GBps"] / copy_bandwidth
            rows.append(row)
            if not checked:
                failures.append(f"{row['size']} {activation} reduce={row['reduce']} {pass_}: "
                                f"relative error {max(errors):.2e} > {tol}")
        del bench
        torch.cuda.empty_cache()
    return device, rows, failures


def targets(rows, dtype):
    """(what, measured, target, met) for every row at the target size."""
    verdicts = []
    for row in rows:
        if dtype != "float32" or row["x_MiB"] * 2**20 < TARGET_BYTES:
            continue
        name = f"{row['size']} {row['activation']} reduce={row['reduce']} {row['pass']}"
        verdicts.append((f"{name}: fraction of copy bandwidth", row["of_copy"], TARGETS[row["pass"]]))
        verdicts.append((f"{name}: speed-up over eager", row["eager_ms"] / row["fused_ms"], TARGET_OVER_EAGER))
        if row["compile_ms"]:
            verdicts.append((f"{name}: speed-up over torch.compile", row["compile_ms"] / row["fused_ms"],
                             TARGET_OVER_COMPILE))
    return [(what, value, target, value >= target) for what, value, target in verdicts]


def markdown(device, args, rows, failures):
    fmt = lambda v, spec: "n/a" if v is None else format(v, spec)  # noqa: E731
    lines = [f"## GPU: {device}", "",
             f"dtype {args.dtype}; per call, median of {args.repeat} samples of {args.calls} back-to-back calls; "
             "'of copy' is the fused pass's bytes "
             "per second over a device-to-device copy of x measured in the same run.", "",
             "| x (BxHxW) | activation | reduce | pass | copy GB/s | fused ms | fused GB/s | of copy "
             "| eager ms | compile ms | x eager | x compile | max rel. error |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        over_compile = r["compile_ms"] / r["fused_ms"] if r["compile_ms"] else None
        lines.append(f"| {r['size']} | {r['activation']} | {r['reduce']} | {r['pass']} | {r['copy_GBps']:.0f} "
                     f"| {r['fused_ms']:.3f} | {r['fused_GBps']:.0f} | {r['of_copy']:.2f} | {r['eager_ms']:.3f} "
                     f"| {fmt(r['compile_ms'], '.3f')} | {r['eager_ms'] / r['fused_ms']:.2f} "
                     f"| {fmt(over_compile, '.2f')} | {r['max_rel_error']:.1e} |")
    verdicts = targets(rows, args.dtype)
    if verdicts:
        lines += ["", "Targets (float32, x >= 256 MiB):", ""]
        lines += [f"- {'met' if met else 'MISSED'}: {what} {value:.2f} (target {target})"
                  for what, value, target, met in verdicts]
    if failures:
        lines += ["", "Checks FAILED:", ""] + [f"- {f}" for f in failures]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    if args.dry_run:
        for size, activation, reduce in plan(args):
            mib = size[0] * size[1] * size[2] * item_size(args.dtype) / 2**20
            print(f"{'x'.join(map(str, size))} ({mib:.0f} MiB {args.dtype}) {activation} "
                  f"reduce={'none' if reduce is None else reduce}: forward, training step; "
                  f"fused, eager{'' if args.no_compile else ', torch.compile'}, copy")
        return 0
    device, rows, failures = run(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = markdown(device, args, rows, failures)
    (out / "gpu_benchmark.md").write_text(report)
    (out / "gpu_benchmark.json").write_text(json.dumps({"device": device, "dtype": args.dtype, "rows": rows},
                                                       indent=1))
    print(report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
