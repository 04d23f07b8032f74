"""GPU benchmark of every front-end that runs without TensorFlow: the
pybind11 binding (spatial_ops._core on PyTorch tensors), the PyTorch
operator (spatial_ops.torch) and the JAX custom call (spatial_ops.jax under
jax.jit), against a device-to-device copy of x (the streaming floor) and the
same math composed in each framework: PyTorch eager, torch.compile and
jax.jit. All in one process on one device; every fused result is checked
against the float64 composite before it is timed. Then the host overhead
per call, on a 1x4x4 input. A benchmark, not a test: it reports measured
times and ratios, and which of the targets they meet.

    python benchmarks/gpu/bench_gpu.py --out RESULTS           # on a GPU (scripts/gpu/run_on_gpu.sh)
    python benchmarks/gpu/bench_gpu.py --device cpu --sizes 2x8x8 --repeat 1 --calls 1   # the dry run

Every time is the whole call as a user makes it, by the host's clock: a
sample is --calls back-to-back calls and a wait for the last result, so
the host queues ahead and a call costs the larger of its device time and
its host time. Writes gpu_benchmark.md (the table, with the device's name)
and gpu_benchmark.json to --out."""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# JAX would otherwise take 75% of the GPU's memory at its first call, and
# PyTorch shares the device here.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import numpy as np  # noqa: E402

from spatial_ops.testing.criteria import TOLERANCES  # noqa: E402  (the tests' per-dtype tolerances)

ROOT = Path(__file__).resolve().parents[2]

# Targets at 1024x256x256 float32 (256 MiB): a fraction of the copy's
# bandwidth per pass, speed-ups over the framework's compiler, and the host
# overhead per call of the PyTorch operator and the JAX custom call.
TARGET_SIZE = (1024, 256, 256)
OF_COPY_TARGETS = {"forward": 0.90, "training step": 0.85}
OVER_COMPILER_TARGET = 1.0
OVERHEAD_TARGET_US = 10.0
OVERHEAD_SIZE = (1, 4, 4)

FUSED = ("_core", "torch op", "jax op")
COMPOSITES = ("torch eager", "torch.compile", "jax.jit")
# Each fused front-end against its framework's compiler.
COMPILER_OF = {"_core": "torch.compile", "torch op": "torch.compile", "jax op": "jax.jit"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--device",
        default="cuda",
        choices=("cuda", "cpu"),
        help="cpu: the dry run, every path at a small size (no figure means anything)",
    )
    parser.add_argument("--out", default=str(ROOT / "build" / "gpu-results"), help="folder for the results")
    parser.add_argument(
        "--sizes",
        default="256x128x128,1024x256x256",
        help="comma-separated BxHxW (x is (B, H, W); 256x128x128 float32 is 16 MiB, 1024x256x256 256 MiB)",
    )
    parser.add_argument("--activations", default="relu,gelu", help="comma-separated, of relu and gelu")
    parser.add_argument(
        "--reduce", default="none,-1", help="comma-separated: none (elementwise) and/or -1 (sum over W)"
    )
    parser.add_argument("--dtype", default="float32", choices=sorted(TOLERANCES))
    parser.add_argument("--repeat", type=int, default=15, help="timed samples per measurement (median)")
    parser.add_argument("--calls", type=int, default=10, help="back-to-back calls per timed sample")
    parser.add_argument("--overhead-calls", type=int, default=2000, help="calls per sample at 1x4x4")
    args = parser.parse_args(argv)
    args.sizes = [tuple(int(d) for d in s.split("x")) for s in args.sizes.split(",")]
    args.activations = args.activations.split(",")
    if set(args.activations) - {"relu", "gelu"} or any(len(s) != 3 for s in args.sizes):
        parser.error(f"activations must be relu or gelu and sizes BxHxW: {args.activations}, {args.sizes}")
    args.reduce = [None if r == "none" else int(r) for r in args.reduce.split(",")]
    if any(r not in (None, -1) for r in args.reduce):
        parser.error("--reduce takes none and -1")
    return args


class Frameworks:
    """PyTorch and JAX on one device, and the fused front-ends."""

    def __init__(self, device):
        import jax
        import torch

        import spatial_ops.jax as sjax
        import spatial_ops.torch as storch
        from spatial_ops import _core

        self.torch, self.jax, self.sjax, self.storch, self.core = torch, jax, sjax, storch, _core
        self.device = device
        self.jax_device = jax.devices("gpu" if device == "cuda" else "cpu")[0]
        if device == "cuda" and not (torch.cuda.is_available() and _core.built_with_cuda):
            raise SystemExit(
                "--device cuda needs a CUDA device and spatial_ops built with CUDA "
                f"(torch.cuda.is_available() {torch.cuda.is_available()}, "
                f"_core.built_with_cuda {_core.built_with_cuda})"
            )

    def name(self):
        if self.device == "cuda":
            return self.torch.cuda.get_device_name()
        return f"CPU ({os.cpu_count()} cores): the dry run"

    def torch_wait(self, _result):
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def jax_wait(self, result):
        self.jax.block_until_ready(result)

    def as_core_array(self, tensor):
        """What _core takes: the CUDA tensor itself, or a NumPy view of a CPU one."""
        return tensor if self.device == "cuda" else tensor.numpy()


class Case:
    """One configuration: operands in PyTorch and JAX, and for each
    implementation and pass a call and the function that waits for it."""

    def __init__(self, fw, dtype, size, activation, reduce):
        torch, jax = fw.torch, fw.jax
        self.fw, self.size, self.activation, self.reduce = fw, size, activation, reduce
        batch, height, width = size
        generator = torch.Generator(device=fw.device).manual_seed(0)
        make = lambda *shape: torch.randn(
            shape,
            device=fw.device,
            dtype=getattr(torch, dtype),  # noqa: E731
            generator=generator,
        )
        self.x, self.kernel, self.bias = make(batch, height, width), make(height, width), make(height, width)
        self.out_shape = size if reduce is None else size[:2]
        self.dy = make(*self.out_shape)
        self.jax_operands = [
            jax.device_put(t.cpu().numpy(), fw.jax_device) for t in (self.x, self.kernel, self.bias, self.dy)
        ]
        self.kwargs = dict(activation=activation, reduce_axis=reduce)

    def bytes(self, pass_):
        """Bytes the pass must move: the forward reads x and the weights and
        writes y; the backward reads dy, x and the weights and writes dx,
        dkernel and dbias."""
        size = self.x.element_size()
        x, weights, y = self.x.numel() * size, 2 * self.kernel.numel() * size, self.dy.numel() * size
        forward = x + weights + y
        return forward if pass_ == "forward" else forward + (y + x + weights) + (x + weights)

    # ---- the composites ----
    def torch_composite(self, x, kernel, bias):
        torch = self.fw.torch
        z = x * kernel + bias
        y = torch.relu(z) if self.activation == "relu" else torch.nn.functional.gelu(z)
        return y if self.reduce is None else y.sum(dim=-1)

    def jax_composite(self, x, kernel, bias):
        jax = self.fw.jax
        z = x * kernel + bias
        y = jax.nn.relu(z) if self.activation == "relu" else jax.nn.gelu(z, approximate=False)
        return y if self.reduce is None else y.sum(axis=-1)

    # ---- the implementations: {name: (forward, training step, wait)} ----
    def torch_calls(self, fn):
        torch = self.fw.torch
        leaves = [t.detach().requires_grad_() for t in (self.x, self.kernel, self.bias)]
        forward = lambda: fn(self.x, self.kernel, self.bias)  # noqa: E731
        step = lambda: (*torch.autograd.grad(fn(*leaves), leaves, self.dy),)  # noqa: E731
        return forward, step, self.fw.torch_wait

    def jax_calls(self, fn):
        jax = self.fw.jax
        forward = jax.jit(fn)
        step = jax.jit(lambda x, kernel, bias, dy: jax.vjp(fn, x, kernel, bias)[1](dy))
        x, kernel, bias, dy = self.jax_operands
        return (lambda: forward(x, kernel, bias)), (lambda: step(x, kernel, bias, dy)), self.fw.jax_wait

    def core_calls(self):
        """_core on the canonical view, [B, A, R, C] = (B, H, W, 1) with W as
        R when it is summed, into preallocated outputs."""
        fw, torch = self.fw, self.fw.torch
        batch, height, width = self.size
        reduction, row = ("none" if self.reduce is None else "sum"), self.activation
        x4, k3, b3 = (
            self.x.view(batch, height, width, 1),
            self.kernel.view(height, width, 1),
            self.bias.view(height, width, 1),
        )
        y = torch.empty(self.out_shape, device=fw.device, dtype=self.x.dtype)
        grads = [torch.empty_like(t) for t in (self.x, self.kernel, self.bias)]
        arrays = [
            fw.as_core_array(t) for t in (x4, k3, b3, y.view(*self.out_shape, 1), self.dy.view(*self.out_shape, 1))
        ]
        outs = tuple(fw.as_core_array(g.view_as(v)) for g, v in zip(grads, (x4, k3, b3)))

        def forward():
            fw.core.forward(*arrays[:3], row, [], reduction, out=arrays[3])
            return y

        def step():
            forward()
            fw.core.backward(arrays[4], *arrays[:3], row, [], reduction, out=outs)
            return (y, *grads)

        return forward, step, fw.torch_wait

    def implementations(self):
        fw = self.fw
        torch_op = lambda x, kernel, bias: fw.storch.spatial_dense(x, kernel, bias, **self.kwargs)  # noqa: E731
        jax_op = lambda x, kernel, bias: fw.sjax.spatial_dense(x, kernel, bias, **self.kwargs)  # noqa: E731
        fw.torch._dynamo.reset()  # every case compiles afresh, never past Dynamo's recompile limit
        return {
            "_core": self.core_calls(),
            "torch op": self.torch_calls(torch_op),
            "jax op": self.jax_calls(jax_op),
            "torch eager": self.torch_calls(self.torch_composite),
            "torch.compile": self.torch_calls(fw.torch.compile(self.torch_composite)),
            "jax.jit": self.jax_calls(self.jax_composite),
        }

    def reference(self):
        """y, dx, dkernel, dbias of the composite in float64."""
        torch = self.fw.torch
        leaves = [t.double().requires_grad_() for t in (self.x, self.kernel, self.bias)]
        y = self.torch_composite(*leaves)
        return [y.detach(), *torch.autograd.grad(y, leaves, self.dy.double())]


def as_float64(result):
    return np.asarray(result.detach().cpu().double() if hasattr(result, "detach") else result, np.float64)


def max_relative_error(results, reference):
    errors = []
    for got, want in zip(results, reference):
        got, want = as_float64(got), as_float64(want)
        errors.append(float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300)))
    return max(errors)


def time_ms(call, wait, repeat, calls):
    """Median over `repeat` samples of the time per call: `calls` calls back
    to back, then a wait for the last result, by the host's clock."""
    for _ in range(3):
        wait(call())
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(calls - 1):
            call()
        wait(call())
        samples.append((time.perf_counter() - start) * 1e3 / calls)
    return statistics.median(samples)


def measure(fw, args):
    """The rows of the main table, the failed checks."""
    rows, failures = [], []
    tol = TOLERANCES[args.dtype]
    for size in args.sizes:
        for activation in args.activations:
            for reduce in args.reduce:
                case = Case(fw, args.dtype, size, activation, reduce)
                reference = case.reference()
                destination = fw.torch.empty_like(case.x)
                copy_ms = time_ms(lambda: destination.copy_(case.x), fw.torch_wait, args.repeat, args.calls)
                copy_gbps = 2 * case.x.numel() * case.x.element_size() / copy_ms / 1e6
                config = {
                    "size": "x".join(map(str, size)),
                    "activation": activation,
                    "reduce": "none" if reduce is None else str(reduce),
                    "copy_GBps": copy_gbps,
                }
                for name, (forward, step, wait) in case.implementations().items():
                    for pass_, call in (("forward", forward), ("training step", step)):
                        result = call()
                        results = [result] if pass_ == "forward" else list(result)
                        # The _core step returns y too; the others return the gradients alone.
                        want = (
                            reference[:1] if pass_ == "forward" else (reference if len(results) == 4 else reference[1:])
                        )
                        error = max_relative_error(results, want)
                        row = dict(
                            config,
                            implementation=name,
                            pass_=pass_,
                            max_rel_error=error,
                            ms=time_ms(call, wait, args.repeat, args.calls),
                        )
                        row["GBps"] = case.bytes(pass_) / row["ms"] / 1e6
                        row["of_copy"] = row["GBps"] / copy_gbps
                        rows.append(row)
                        if name in FUSED and not error <= tol:
                            failures.append(
                                f"{config['size']} {activation} reduce={config['reduce']} {name} "
                                f"{pass_}: relative error {error:.2e} > {tol}"
                            )
                if fw.device == "cuda":  # the next case allocates afresh
                    fw.torch.cuda.empty_cache()
    for row in rows:
        peer = next(
            (
                r
                for r in rows
                if r["implementation"] == COMPILER_OF.get(row["implementation"])
                and all(r[k] == row[k] for k in ("size", "activation", "reduce", "pass_"))
            ),
            None,
        )
        row["over_compiler"] = peer["ms"] / row["ms"] if peer else None
    return rows, failures


def measure_overhead(fw, args):
    """Microseconds per forward call at 1x4x4, where the device's work is
    nothing and the host's is all."""
    case = Case(fw, "float32", OVERHEAD_SIZE, "relu", None)
    return {
        name: time_ms(forward, wait, args.repeat, args.overhead_calls) * 1e3
        for name, (forward, _step, wait) in case.implementations().items()
    }


def verdicts(rows, overhead):
    """(what, measured, target, met) for the targets."""
    target_size = "x".join(map(str, TARGET_SIZE))
    found = []
    for row in rows:
        if row["size"] != target_size or row["implementation"] not in FUSED:
            continue
        name = f"{row['size']} {row['activation']} reduce={row['reduce']} {row['implementation']} {row['pass_']}"
        found.append((f"{name}: of copy bandwidth", row["of_copy"], OF_COPY_TARGETS[row["pass_"]]))
        found.append(
            (f"{name}: speed-up over {COMPILER_OF[row['implementation']]}", row["over_compiler"], OVER_COMPILER_TARGET)
        )
    verdict = [(what, value, target, value >= target) for what, value, target in found]
    for name in ("torch op", "jax op"):
        verdict.append(
            (
                f"host overhead per call, {name} (us)",
                overhead[name],
                OVERHEAD_TARGET_US,
                overhead[name] <= OVERHEAD_TARGET_US,
            )
        )
    return verdict


def markdown(device, args, rows, overhead, failures, versions):
    lines = [
        f"## GPU: {device}",
        "",
        f"{versions}; dtype {args.dtype}; per call, median of {args.repeat} samples of {args.calls} "
        "back-to-back calls by the host's clock; 'of copy' is the pass's bytes per second over a "
        "device-to-device copy of x in the same run; 'x compiler' is the time of the framework's "
        "compiled composite (torch.compile for _core and the PyTorch operator, jax.jit for the JAX "
        "custom call) over this one.",
        "",
        "| x (BxHxW) | activation | reduce | pass | implementation | ms | GB/s | of copy | x compiler "
        "| max rel. error |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        over = "" if r["over_compiler"] is None else f"{r['over_compiler']:.2f}"
        lines.append(
            f"| {r['size']} | {r['activation']} | {r['reduce']} | {r['pass_']} | {r['implementation']} "
            f"| {r['ms']:.3f} | {r['GBps']:.0f} | {r['of_copy']:.2f} | {over} | {r['max_rel_error']:.1e} |"
        )
    lines += [
        "",
        f"Host overhead per forward call at {'x'.join(map(str, OVERHEAD_SIZE))} (us, median of "
        f"{args.repeat} samples of {args.overhead_calls} calls):",
        "",
        "| " + " | ".join(overhead) + " |",
        "|" + " ---: |" * len(overhead),
        "| " + " | ".join(f"{v:.1f}" for v in overhead.values()) + " |",
    ]
    verdict = verdicts(rows, overhead)
    if verdict:
        lines += ["", "Targets (float32, 1024x256x256):", ""]
        lines += [
            f"- {'met' if met else 'MISSED'}: {what} {value:.2f} (target {target})"
            for what, value, target, met in verdict
        ]
    if failures:
        lines += ["", "Checks FAILED:", ""] + [f"- {f}" for f in failures]
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = parse_args(argv)
    fw = Frameworks(args.device)
    versions = f"PyTorch {fw.torch.__version__} (CUDA {fw.torch.version.cuda}), JAX {fw.jax.__version__}"
    print(f"device: {fw.name()}; {versions}", flush=True)
    rows, failures = measure(fw, args)
    overhead = measure_overhead(fw, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report = markdown(fw.name(), args, rows, overhead, failures, versions)
    (out / "gpu_benchmark.md").write_text(report)
    (out / "gpu_benchmark.json").write_text(
        json.dumps(
            {"device": fw.name(), "versions": versions, "dtype": args.dtype, "rows": rows, "overhead_us": overhead},
            indent=1,
        )
    )
    print(report)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
