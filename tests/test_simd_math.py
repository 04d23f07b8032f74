"""The float32 math the CPU kernels use instead of libm (simd_math.h), against
float64 NumPy over its whole range, special values included."""

import math

import numpy as np
import pytest

from spatial_ops import _core

REFERENCE = {
    "exp": np.exp,
    "expm1": np.expm1,
    "log1p": np.log1p,
    "tanh": np.tanh,
    "erfc": np.vectorize(math.erfc),
}
# (range of x, largest error in float32 ulps of the float64 result)
DOMAINS = {
    "exp": ((-103.0, 88.7), 3),
    "expm1": ((-20.0, 88.7), 3),
    "log1p": ((-0.999, 1e6), 3),
    "tanh": ((-12.0, 12.0), 4),
    # erfc: about 1e-6 relative where it is below 1e-4 (x > 2.6), from rounding
    # -x * x before exp; beyond x = 3 (2e-5) it is tested absolutely below.
    "erfc": ((-10.0, 3.0), 20),
}
SPECIALS = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 0.5, -0.5, 1.0, np.inf, -np.inf, np.nan],
                    np.float32)


def ulp_error(got, want):
    want32 = want.astype(np.float32)
    spacing = np.spacing(np.abs(want32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / np.maximum(spacing, np.finfo(np.float32).tiny)


@pytest.mark.parametrize("name", REFERENCE)
def test_accuracy_over_the_domain(rng, name):
    (low, high), max_ulps = DOMAINS[name]
    x = np.concatenate([rng.uniform(low, high, 200_000), rng.uniform(-1, 1, 100_000),
                        rng.uniform(-1e-3, 1e-3, 10_000)]).astype(np.float32)
    x = x[(x >= low) & (x <= high)]
    got = _core.float_math(name, x)
    want = REFERENCE[name](x.astype(np.float64))
    finite = np.isfinite(want.astype(np.float32)) & (np.abs(want) > 1e-37)
    errors = ulp_error(got[finite], want[finite])
    assert errors.max() <= max_ulps, (name, float(errors.max()), float(x[finite][errors.argmax()]))


@pytest.mark.parametrize("name", REFERENCE)
def test_special_values_match_libm(name):
    got = _core.float_math(name, SPECIALS)
    with np.errstate(all="ignore"):
        want = REFERENCE[name](SPECIALS.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite & ~np.isnan(want)], want[~finite & ~np.isnan(want)])
    np.testing.assert_allclose(got[finite], want[finite], rtol=4e-7, atol=0)


def test_overflow_and_underflow():
    np.testing.assert_array_equal(_core.float_math("exp", np.array([88.8, 1e4, -104.0, -1e4], np.float32)),
                                  [np.inf, np.inf, 0.0, 0.0])
    np.testing.assert_array_equal(_core.float_math("log1p", np.array([-1.0, -2.0], np.float32)),
                                  [-np.inf, np.nan])
    tail = np.linspace(3.0, 30.0, 1000, dtype=np.float32)
    np.testing.assert_allclose(_core.float_math("erfc", tail), [math.erfc(v) for v in tail], rtol=0, atol=1e-9)
    np.testing.assert_array_equal(_core.float_math("tanh", np.array([9.5, -50.0], np.float32)), [1.0, -1.0])
