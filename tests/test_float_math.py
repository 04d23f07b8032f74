"""The float32 math the CPU kernels use instead of libm (csrc/core/float_math.h),
in every CPU build this machine runs (the FMA builds and the AVX baseline round
differently).

Each function's accuracy is measured over every float32 input by
scripts/float_math_exhaustive.sh, which records the largest error per build and
the inputs that reach it in tests/float_math_bounds.json. Here: that record is
of this float_math.h and within each function's stated bound, and each build
meets the record on the worst inputs found, a dense grid over all floats and
random draws, against float64 NumPy."""

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from spatial_ops import _core

ROOT = Path(__file__).resolve().parent.parent
RECORD = json.loads((Path(__file__).with_name("float_math_bounds.json")).read_text())

REFERENCE = {
    "exp": np.exp,
    "exp_nonpositive": lambda x: np.exp(np.minimum(x, 0)),
    "expm1": np.expm1,
    "expm1_nonpositive": lambda x: np.expm1(np.minimum(x, 0)),
    "log1p_unit": np.log1p,
    "tanh": np.tanh,
    "erfc": np.vectorize(math.erfc, otypes=[np.float64]),
}
# The largest error each function promises, in float32 ulps, over the inputs
# it is used on: every float, but log1p_unit on [0, 1] (its only use is
# log1p(exp(-|z|)), softplus). The exhaustive record must stay within these.
STATED_ULPS = {
    "exp": 3,
    "exp_nonpositive": 2,
    "expm1": 3,
    "expm1_nonpositive": 2,
    "log1p_unit": 2,
    "tanh": 2.5,
    "erfc": 7,
}
# Where random draws go: the range in which each function is not yet
# saturated, as (low, high).
LIVELY = {
    "exp": (-103.0, 88.7),
    "exp_nonpositive": (-103.0, 5.0),
    "expm1": (-20.0, 88.7),
    "expm1_nonpositive": (-90.0, 5.0),
    "log1p_unit": (0.0, 1.0),
    "tanh": (-12.0, 12.0),
    "erfc": (-10.0, 10.1),
}
# NumPy's float64 functions and glibc's (which the record used) may differ in
# the last double bit: a few 1e-9 float32 ulps.
REFERENCE_SLACK_ULPS = 1e-6
SPECIALS = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 0.5, -0.5, 1.0, np.inf, -np.inf, np.nan], np.float32)
ISAS = _core.supported_cpu_isas()


def ulp_error(got, want):
    """|got - want| in units of the gap above |want| rounded to float32
    (2^-149 among subnormals), as the exhaustive harness measures it."""
    with np.errstate(over="ignore"):
        spacing = np.spacing(np.abs(want.astype(np.float32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / spacing


def in_domain(name, x):
    """The inputs a function takes: log1p_unit is defined on [0, 1] (and NaN)."""
    if name != "log1p_unit":
        return x
    return x[np.isnan(x) | ((x >= 0) & (x <= 1))]


def recorded_ulps(name, isa):
    """The exhaustive maximum of `name` in build `isa`, or the stated bound for
    a build the record's machine did not run."""
    build = RECORD["functions"][name].get(isa)
    return STATED_ULPS[name] if build is None else build["max_ulps"]


def assert_within_record(name, isa, x):
    x = in_domain(name, x)
    got = _core.float_math(name, x, isa=isa)
    with np.errstate(all="ignore"):  # overflow past float32's range: Inf, as the functions give
        want = REFERENCE[name](x.astype(np.float64))
        want32 = want.astype(np.float32)
    finite = np.isfinite(want32)
    errors = ulp_error(got[finite], want[finite])
    worst = int(np.argmax(errors))
    assert errors[worst] <= recorded_ulps(name, isa) + REFERENCE_SLACK_ULPS, (
        f"{name} ({isa}): {errors[worst]:.4f} ulps at x = {x[finite][worst]!r}, past the exhaustive "
        f"record {recorded_ulps(name, isa):.4f}; rerun scripts/float_math_exhaustive.sh"
    )
    np.testing.assert_array_equal(got[~finite], want32[~finite], err_msg=f"{name} ({isa}): Inf or NaN")


def test_the_record_measured_this_float_math():
    header = (ROOT / "csrc" / "core" / "float_math.h").read_bytes()
    assert RECORD["float_math_h_sha256"] == hashlib.sha256(header).hexdigest(), (
        "csrc/core/float_math.h changed since tests/float_math_bounds.json was measured: "
        "rerun bash scripts/float_math_exhaustive.sh"
    )


def floats_between(low, high):
    """How many float32 values lie in [low, high] for 0 <= low <= high."""
    bits = np.array([low, high], np.float32).view(np.int32)
    return int(bits[1] - bits[0]) + 1


@pytest.mark.parametrize("name", REFERENCE)
def test_the_record_covers_every_input_within_the_stated_bound(name):
    nans = 2 * (2**23 - 1)
    # log1p_unit: [+0, 1], -0 and the NaNs; the others: every bit pattern.
    every_input = floats_between(0.0, 1.0) + 1 + nans if name == "log1p_unit" else 2**32
    builds = RECORD["functions"][name]
    assert builds, f"no build of {name} was measured"
    for isa, build in builds.items():
        assert build["inputs"] == every_input, (name, isa, build["inputs"], every_input)
        assert build["special_mismatches"] == 0, (name, isa)
        assert build["max_ulps"] <= STATED_ULPS[name], (name, isa, build["max_ulps"], STATED_ULPS[name])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", REFERENCE)
def test_the_worst_inputs_found_and_a_dense_grid(name, isa):
    """Deterministic: every build's worst inputs, every 4099th float32 bit
    pattern (all magnitudes, both signs, NaNs) and an even grid over the range
    where the function is not saturated."""
    worst = [float(v) for build in RECORD["functions"][name].values() for v in build["worst"]]
    every_4099th = np.arange(0, 2**32, 4099, dtype=np.uint64).astype(np.uint32).view(np.float32)
    even = np.linspace(*LIVELY[name], 2**18, dtype=np.float32)
    assert_within_record(name, isa, np.concatenate([np.array(worst, np.float32), every_4099th, even]))


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", REFERENCE)
def test_random_inputs(rng, name, isa):
    low, high = LIVELY[name]
    x = np.concatenate(
        [rng.uniform(low, high, 200_000), rng.uniform(-1, 1, 100_000), rng.uniform(-1e-3, 1e-3, 10_000)]
    ).astype(np.float32)
    assert_within_record(name, isa, x[(x >= low) & (x <= high)])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", REFERENCE)
def test_special_values_match_libm(name, isa):
    specials = in_domain(name, SPECIALS)
    got = _core.float_math(name, specials, isa=isa)
    with np.errstate(all="ignore"):
        want = REFERENCE[name](specials.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    np.testing.assert_allclose(got[finite], want[finite], rtol=4e-7, atol=0)


@pytest.mark.parametrize("isa", ISAS)
def test_overflow_and_underflow(isa):
    np.testing.assert_array_equal(
        _core.float_math("exp", np.array([88.8, 1e4, -104.0, -1e4], np.float32), isa=isa), [np.inf, np.inf, 0.0, 0.0]
    )
    tail = np.linspace(3.0, 30.0, 1000, dtype=np.float32)
    np.testing.assert_allclose(_core.float_math("erfc", tail, isa=isa), [math.erfc(v) for v in tail], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(_core.float_math("tanh", np.array([9.5, -50.0], np.float32), isa=isa), [1.0, -1.0])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", ["expm1", "expm1_nonpositive", "tanh"])
def test_odd_functions_keep_the_sign_of_zero(name, isa):
    """f(-0) = -0, as libm gives: elu and selu pass it on, as TensorFlow's do."""
    got = _core.float_math(name, np.array([-0.0, 0.0], np.float32), isa=isa)
    np.testing.assert_array_equal(np.signbit(got), [True, False])


def test_an_unknown_build_is_refused():
    with pytest.raises(ValueError, match="'sse9' is not one this CPU runs"):
        _core.float_math("exp", np.zeros(3, np.float32), isa="sse9")
