// float exp, expm1, log1p, tanh and erfc for the CPU, written without branches
// or libm calls so that the compiler vectorises the loops that call them.
// Each is accurate to a few float32 ulps (tests/test_simd_math.py measures
// them against float64 NumPy over their whole range); edge cases (Inf, NaN,
// overflow, underflow) behave as libm's.
#pragma once

#include <cstdint>
#include <cstring>

#include "portability.h"

namespace spatial_ops {
SO_ISA_BEGIN
namespace simd_math {

inline float from_bits(int32_t i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int32_t to_bits(float f) { int32_t i; std::memcpy(&i, &f, 4); return i; }
inline float select(bool c, float a, float b) { return c ? a : b; }

// Cephes expf: exp(x) = 2^n exp(r), |r| <= ln2 / 2, with 2^n applied in two
// halves so results down to the subnormal range are right.
inline float exp(float x) {
  const float finite = select(x != x, 0.0f, x);  // NaN never reaches the int conversion
  const float clamped = select(finite > 88.7228394f, 88.7228394f, select(finite < -104.0f, -104.0f, finite));
  const float n = __builtin_rintf(clamped * 1.44269504088896341f);
  const float r = (clamped - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e_r = (p * (r * r) + r) + 1.0f;
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t half = ni >> 1;
  const float result = e_r * from_bits((half + 127) << 23) * from_bits((ni - half + 127) << 23);
  return select(x != x, x, select(x > 88.7228394f, __builtin_inff(), result));
}

// Taylor series near 0 (no cancellation), exp(x) - 1 elsewhere.
inline float expm1(float x) {
  float p = 2.48015873e-5f;  // 1/8!
  p = p * x + 1.98412698e-4f;
  p = p * x + 1.38888889e-3f;
  p = p * x + 8.33333333e-3f;
  p = p * x + 4.16666667e-2f;
  p = p * x + 1.66666667e-1f;
  p = p * x + 0.5f;
  const float small = p * (x * x) + x;
  return select(__builtin_fabsf(x) < 0.5f, small, exp(x) - 1.0f);
}

// Cephes logf on u = 1 + y, corrected by (y - (u - 1)) / u for the rounding
// of 1 + y, which keeps full precision for small y.
inline float log1p(float y) {
  const float u = 1.0f + y;
  const int32_t bits = to_bits(u);
  float e = static_cast<float>((bits >> 23) - 126);
  float m = from_bits((bits & 0x007fffff) | 0x3f000000);  // [0.5, 1)
  const bool below = m < 0.707106781186547524f;
  e = select(below, e - 1.0f, e);
  m = select(below, m + m - 1.0f, m - 1.0f);
  const float z = m * m;
  float p = 7.0376836292e-2f;
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  float log_u = p * m * z + e * -2.12194440e-4f - 0.5f * z + m + e * 0.693359375f;
  const float correction = select(u == 1.0f, 0.0f, (y - (u - 1.0f)) / u);
  log_u = select(u == 1.0f, 0.0f, log_u) + correction;
  log_u = select((u == 1.0f) & (y != 0.0f), y, log_u);  // y below float's resolution at 1
  return select((y != y) | (u == __builtin_inff()), u,
                select(u == 0.0f, -__builtin_inff(), select(u < 0.0f, __builtin_nanf(""), log_u)));
}

// tanh(|x|) = e / (e + 2) with e = expm1(2|x|); |x| > 9 rounds to 1 (and
// its e / (e + 2) would be Inf / Inf). NaN passes through expm1. (Clamping
// |x| before expm1 instead stops GCC 12 from vectorising the loop.)
inline float tanh(float x) {
  const float a = __builtin_fabsf(x);
  const float e = expm1(2.0f * a);
  return __builtin_copysignf(select(a > 9.0f, 1.0f, e / (e + 2.0f)), x);
}

// Numerical Recipes' erfcc, relative error below 1.2e-7 everywhere.
inline float erfc(float x) {
  const float a = select(x < 0.0f, -x, x);
  const float t = 1.0f / (1.0f + 0.5f * a);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  const float r = t * exp(-a * a + p);
  return select(x != x, x, select(x < 0.0f, 2.0f - r, r));
}

}  // namespace simd_math
SO_ISA_END
}  // namespace spatial_ops
