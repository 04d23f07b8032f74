"""The float32 math the CPU kernels use instead of libm (csrc/core/float_math.h), against
float64 NumPy over its whole range, special values included, in every CPU
build this machine runs (the FMA builds and the AVX baseline round
differently)."""

import math

import numpy as np
import pytest

from spatial_ops import _core

REFERENCE = {
    "exp": np.exp,
    "exp_nonpositive": lambda x: np.exp(np.minimum(x, 0)),
    "expm1": np.expm1,
    "expm1_nonpositive": lambda x: np.expm1(np.minimum(x, 0)),
    "log1p_unit": np.log1p,
    "tanh": np.tanh,
    "erfc": np.vectorize(math.erfc),
}
# (range of x, largest error in float32 ulps of the float64 result)
DOMAINS = {
    "exp": ((-103.0, 88.7), 3),
    "exp_nonpositive": ((-103.0, 5.0), 2),  # x > 0: exp(0)
    "expm1": ((-20.0, 88.7), 3),
    "expm1_nonpositive": ((-90.0, 5.0), 2),
    "log1p_unit": ((0.0, 1.0), 2),  # the kernels' only use: log1p(exp(-|z|))
    "tanh": ((-12.0, 12.0), 2),
    "erfc": ((-10.0, 9.1), 7),  # beyond 9.1 erfc is subnormal
}
SPECIALS = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-8, -1e-8, 0.5, -0.5, 1.0, np.inf, -np.inf, np.nan],
                    np.float32)
ISAS = _core.supported_cpu_isas()


def ulp_error(got, want):
    want32 = want.astype(np.float32)
    spacing = np.spacing(np.abs(want32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - want) / np.maximum(spacing, np.finfo(np.float32).tiny)


def in_domain(name, specials):
    """The special values a function takes: log1p_unit is defined on [0, 1] (and NaN)."""
    if name != "log1p_unit":
        return specials
    return specials[np.isnan(specials) | ((specials >= 0) & (specials <= 1))]


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", REFERENCE)
def test_accuracy_over_the_domain(rng, name, isa):
    (low, high), max_ulps = DOMAINS[name]
    x = np.concatenate([rng.uniform(low, high, 200_000), rng.uniform(-1, 1, 100_000),
                        rng.uniform(-1e-3, 1e-3, 10_000)]).astype(np.float32)
    x = x[(x >= low) & (x <= high)]
    got = _core.float_math(name, x, isa=isa)
    want = REFERENCE[name](x.astype(np.float64))
    finite = np.isfinite(want.astype(np.float32)) & (np.abs(want) > 1e-37)
    errors = ulp_error(got[finite], want[finite])
    assert errors.max() <= max_ulps, (name, float(errors.max()), float(x[finite][errors.argmax()]))


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
        _core.float_math("exp", np.array([88.8, 1e4, -104.0, -1e4], np.float32), isa=isa),
        [np.inf, np.inf, 0.0, 0.0])
    tail = np.linspace(3.0, 30.0, 1000, dtype=np.float32)
    np.testing.assert_allclose(_core.float_math("erfc", tail, isa=isa), [math.erfc(v) for v in tail],
                               rtol=0, atol=1e-9)
    np.testing.assert_array_equal(_core.float_math("tanh", np.array([9.5, -50.0], np.float32), isa=isa),
                                  [1.0, -1.0])


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("name", ["expm1", "expm1_nonpositive", "tanh"])
def test_odd_functions_keep_the_sign_of_zero(name, isa):
    """f(-0) = -0, as libm gives: elu and selu pass it on, as TensorFlow's do."""
    got = _core.float_math(name, np.array([-0.0, 0.0], np.float32), isa=isa)
    np.testing.assert_array_equal(np.signbit(got), [True, False])


def test_an_unknown_build_is_refused():
    with pytest.raises(ValueError, match="'sse9' is not one this CPU runs"):
        _core.float_math("exp", np.zeros(3, np.float32), isa="sse9")
