// The float functions of float_math.h as this CPU build compiles them, over an
// array: how tests/test_float_math.py measures each build's accuracy (FMA
// builds and the baseline round differently).
#include "cpu/spatial_dense_cpu.h"
#include "cpu/isa.h"
#include "core/float_math.h"

namespace spatial_ops {

void SO_ISA_ENTRY(float_math_cpu)(FloatFunction function, const float* x, float* y, int64_t n) {
  // Each function is called directly inside a lambda: they are always_inline,
  // which a call through a pointer cannot honour.
  const auto apply = [&](auto fn) {
    for (int64_t i = 0; i < n; ++i) y[i] = fn(x[i]);
  };
  switch (function) {
    case FloatFunction::kExp:
      return apply([](float v) { return float_math::exp(v); });
    case FloatFunction::kExpNonpositive:
      return apply([](float v) { return float_math::exp_nonpositive(v); });
    case FloatFunction::kExpm1:
      return apply([](float v) { return float_math::expm1(v); });
    case FloatFunction::kExpm1Nonpositive:
      return apply([](float v) { return float_math::expm1_nonpositive(v); });
    case FloatFunction::kLog1pUnit:
      return apply([](float v) { return float_math::log1p_unit(v); });
    case FloatFunction::kTanh:
      return apply([](float v) { return float_math::tanh(v); });
    case FloatFunction::kErfc:
      return apply([](float v) { return float_math::erfc(v); });
  }
}

}  // namespace spatial_ops
