"""What each fused activation costs to compute, apart from memory traffic:
the CPU kernels alone (spatial_ops._core, the same code every front-end
runs) on one thread, on an x of 1 Mi elements that stays in cache, forward
and backward, reduced or not. An activation whose forward costs more per
element than the streaming floor allows per core is compute-bound at large
sizes. extra_info holds the elements per call and a digest of the outputs,
so that two builds compared by benchmarks/compare_builds.py are checked
bit for bit too. SPATIAL_OPS_CPU_ISA=avx2|baseline forces a narrower build."""

import functools
import hashlib

import ml_dtypes
import numpy as np
import pytest
from harness import QUICK, every_activation, measure

from spatial_ops import _core
from spatial_ops.activations import resolve

SHAPE = (2, 1, 8, 8) if QUICK else (64, 1, 128, 128)  # [B, A, R, C]: 1 Mi elements, in cache
DTYPES = {"float32": np.float32, "bfloat16": ml_dtypes.bfloat16, "float16": np.float16}
ACTIVATIONS = {row: resolve(activation).params for row, activation in every_activation()}
# name: (reduction, reduce_begin, reduce_end, backward)
PASSES = {
    "forward": ("none", 2, 3, False),
    "backward": ("none", 2, 3, True),
    "forward, sum over C": ("sum", 3, 4, False),
    "backward, sum over C": ("sum", 3, 4, True),
}


@functools.lru_cache(maxsize=1)
def operands(dtype_name):
    rng = np.random.default_rng(0)
    dtype = DTYPES[dtype_name]
    x, dy = (rng.normal(size=SHAPE).astype(dtype) for _ in range(2))
    kernel, bias = (rng.normal(size=SHAPE[1:]).astype(dtype) for _ in range(2))
    return x, kernel, bias, dy


@pytest.mark.parametrize("pass_", list(PASSES))
@pytest.mark.parametrize("table_row", list(ACTIVATIONS))
@pytest.mark.parametrize("dtype", list(DTYPES))
def test_kernels(benchmark, dtype, table_row, pass_):
    x, kernel, bias, dy = operands(dtype)
    reduction, begin, end, backward = PASSES[pass_]
    params = list(ACTIVATIONS[table_row])
    options = dict(reduce_begin=begin, reduce_end=end, threads=1)
    y = _core.forward(x, kernel, bias, table_row, params, reduction, **options)
    # Outputs preallocated: a fresh array per call would time the page faults
    # of its first touch (tens of ns per element on some VMs).
    if backward:
        dy = dy if reduction == "none" else np.ones_like(y)
        out = (np.empty_like(x), np.empty_like(kernel), np.empty_like(bias))
        run = lambda: _core.backward(dy, x, kernel, bias, table_row, params, reduction, out=out, **options)  # noqa: E731
    else:
        out = (np.empty_like(y),)
        run = lambda: _core.forward(x, kernel, bias, table_row, params, reduction, out=out[0], **options)  # noqa: E731
    run()
    digest = hashlib.sha1(b"".join(a.tobytes() for a in out)).hexdigest()
    measure(
        benchmark,
        run,
        group=f"kernels {dtype} {pass_}",
        count_faults=False,
        elements=x.size,
        digest=digest,
        cpu_build=_core.active_cpu_isa(),
    )
