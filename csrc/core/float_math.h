// float exp and expm1 (each also in a cheaper form for x <= 0), log1p (on
// [0, 1]), tanh and erfc for the CPU, written without branches or libm calls
// so that the compiler vectorises the loops that call them.
// Each is accurate to a few float32 ulps (tests/test_float_math.py measures
// them against float64 NumPy over their whole range, in each CPU build);
// edge cases (Inf, NaN, overflow, underflow) behave as libm's.
//
// Speed comes from few instructions per element: the element loops run
// independent elements side by side, so the vector units, not the length of
// one element's dependency chain, set their pace. Builds with FMA (AVX2,
// AVX-512) fuse each multiply-add; the AVX baseline rounds twice, so its
// results may differ from theirs by an ulp.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/portability.h"

namespace spatial_ops {
SO_ISA_BEGIN
namespace float_math {

SO_INLINE float from_bits(int32_t i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
SO_INLINE int32_t to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i;
}
SO_INLINE float select(bool c, float a, float b) { return c ? a : b; }
// min(x, bound) and max(x, bound) that keep NaN x (the comparison is false
// for it).
SO_INLINE float at_most_keeping_nan(float x, float bound) { return x > bound ? bound : x; }
SO_INLINE float at_least_keeping_nan(float x, float bound) { return x < bound ? bound : x; }
// value >= 0 (or NaN), computed from magnitude = |x|, with x's sign: x ^ |x|
// is x's sign bit alone, so one more xor puts it on.
SO_INLINE float with_sign_of(float x, float magnitude, float value) {
  return from_bits(to_bits(value) ^ (to_bits(x) ^ to_bits(magnitude)));
}
// 2^n for n in [-126, 127]. Shifted unsigned, so that the garbage n of a
// NaN argument (its result is NaN anyway) is never a signed overflow.
SO_INLINE float two_to(int32_t n) { return from_bits(static_cast<int32_t>(static_cast<uint32_t>(n + 127) << 23)); }

// a * b + c, in one rounding where the build has FMA.
SO_INLINE float madd(float a, float b, float c) {
#if defined(__FMA__)
  return __builtin_fmaf(a, b, c);
#else
  return a * b + c;
#endif
}

// rint(x * scale) for |x * scale| < 2^22, as a float and as an int32: adding
// 1.5 * 2^23 in the multiply-add rounds the product to an integer, which the
// sum then holds in its low mantissa bits.
struct RoundedProduct {
  float value;
  int32_t integer;
};
SO_INLINE RoundedProduct round_product(float x, float scale) {
  constexpr float kShift = 12582912.0f;
  const float shifted = madd(x, scale, kShift);
  return {shifted - kShift, to_bits(shifted) - to_bits(kShift)};
}

// c[B] + c[B+1] x + ... + c[N-1] x^(N-1-B) by Horner's scheme: N - 1 - B
// multiply-adds, the fewest.
template <int B, int N> SO_INLINE float horner(const float (&c)[N], float x) {
  if constexpr (B == N - 1) {
    return c[B];
  } else {
    return madd(horner<B + 1>(c, x), x, c[B]);
  }
}

// x^K for K a power of two, by squaring.
template <int K> SO_INLINE float power_of_two_power(float x) {
  if constexpr (K == 1) {
    return x;
  } else {
    const float half = power_of_two_power<K / 2>(x);
    return half * half;
  }
}

constexpr int largest_power_of_two_below(int n) { return n <= 2 ? 1 : 2 * largest_power_of_two_below((n + 1) / 2); }

// c[B] + c[B+1] x + ... + c[B+Count-1] x^(Count-1) by Estrin's scheme: the
// low terms plus x^low times the high ones, each half split again, so that
// fewer roundings lie in sequence than in Horner's.
template <int B, int Count, int N> SO_INLINE float estrin(const float (&c)[N], float x) {
  if constexpr (Count == 1) {
    return c[B];
  } else {
    constexpr int low = largest_power_of_two_below(Count);
    return madd(estrin<B + low, Count - low>(c, x), power_of_two_power<low>(x), estrin<B, low>(c, x));
  }
}

// With FMA, Horner's scheme: the loops are bound by the vector units'
// throughput, not by one element's chain, so Estrin's extra powers cost more
// than its shorter chain saves (AVX2 and AVX-512 alike). Without FMA each
// step rounds twice, and Horner's longer sequence of them took erfc in the
// AVX baseline past its bound of 7 ulps (tests/test_float_math.py):
// Estrin's scheme there.
template <int N> SO_INLINE float polynomial(float x, const float (&c)[N]) {
#if defined(__FMA__)
  return horner<0>(c, x);
#else
  return estrin<0, N>(c, x);
#endif
}

// a * a - fl(a * a), exactly: one FMA, or Dekker's split without (exact for
// |a| < 2^12, where the halves' products are exact).
SO_INLINE float square_rounding_error(float a, float a2) {
#if defined(__FMA__)
  return __builtin_fmaf(a, a, -a2);
#else
  const float hi = from_bits(to_bits(a) & ~0xfff), lo = a - hi;
  return ((hi * hi - a2) + 2.0f * hi * lo) + lo * lo;
#endif
}

// exp(r) = 1 + r + r^2 kExpTerms(r) for |r| <= ln2 / 2: the minimax
// polynomial of degree 6, relative error 1e-8 with these float32
// coefficients (0.16 ulp; Cephes' degree 7 costs a multiply-add more for
// accuracy that rounding to float discards).
inline constexpr float kExpTerms[] = {0.5f, 0.16666559875011444f, 0.04166865721344948f, 0.008364529348909855f,
                                      0.001371828024275601f};

// exp(x + low) = 2^n exp(r), |r| <= ln2 / 2, n = rint(x / ln2), for x in
// [-104, 104] and |low| << 1 (the low part of an argument known more
// precisely than one float; -0, the default, is folded away): Cephes expf's
// reduction, and exp(r) - 1 = r + r^2 kExpTerms(r) kept apart from the 1 for
// expm1.
struct ExpSplit {
  float expm1_r;
  int32_t n;
  SO_INLINE float exp_r() const { return expm1_r + 1.0f; }
  // exp_r 2^n where n lies in [-150, 0]: 2^(n + 64) is a normal float, and
  // the product rounds once into the subnormal range at the factor 2^-64.
  // (expm1_r + 1) 2^(n + 64) is one multiply-add: a step off the chain.
  SO_INLINE float value_at_most_one() const {
    const float scale = two_to(n + 64);
    return madd(expm1_r, scale, scale) * 5.421010862427522e-20f;
  }
};
SO_INLINE ExpSplit exp_split(float x, float low = -0.0f) {
  const RoundedProduct n = round_product(x, 1.44269504088896341f);
  const float r = madd(n.value, 2.12194440e-4f, madd(n.value, -0.693359375f, x)) + low;
  return {madd(polynomial(r, kExpTerms), r * r, r), n.integer};
}

// exp(x), with 2^n applied in two halves so that results down to the
// subnormal range are right. x is clamped to [-104, 104], beyond which exp
// is 0 or Inf in float, as |x| with the sign put back: one clamp, where two
// in a row cost GCC's vectorised code three compares and three blends.
// Large x overflows to Inf in the scaling. NaN passes the clamp and stays
// NaN through every step (two_to's n is garbage then, never UB).
SO_INLINE float exp(float x) {
  const float magnitude = __builtin_fabsf(x);
  const float clamped = at_most_keeping_nan(magnitude, 104.0f);
  const ExpSplit split = exp_split(with_sign_of(x, magnitude, clamped));
  const int32_t half = split.n >> 1;
  const float first_half = two_to(half);  // exp_r 2^half in one multiply-add, exact
  return madd(split.expm1_r, first_half, first_half) * two_to(split.n - half);
}

// Taylor series near 0 (no cancellation; x's sign restores -0, which the
// sum would make +0), exp(x) - 1 elsewhere.
SO_INLINE float expm1(float x) {
  constexpr float kTaylor[] = {0.5f,           1.66666667e-1f, 4.16666667e-2f, 8.33333333e-3f,
                               1.38888889e-3f, 1.98412698e-4f, 2.48015873e-5f};
  const float small = __builtin_copysignf(madd(polynomial(x, kTaylor), x * x, x), x);
  return select(__builtin_fabsf(x) < 0.5f, small, exp(x) - 1.0f);
}

// x clamped to [low, 0], NaN kept (each comparison is false for it).
SO_INLINE float clamp_nonpositive(float x, float low) {
  return at_least_keeping_nan(at_most_keeping_nan(x, 0.0f), low);
}

// exp(x) for x that cannot be positive (-|z|, -z^2; NaN passes). Below -104
// exp is 0 in float, so exp_split's n lies in [-150, 0]: one scaling, and no
// NaN select.
SO_INLINE float exp_of_nonpositive(float x) { return exp_split(at_least_keeping_nan(x, -104.0f)).value_at_most_one(); }

// exp(min(x, 0)): what every exp of the activations but `exponential` takes
// (exp(z) where z < 0 selects it). About two thirds of exp()'s cost.
SO_INLINE float exp_nonpositive(float x) { return exp_of_nonpositive(at_most_keeping_nan(x, 0.0f)); }

// expm1(min(x, 0)), for elu and selu: 2^n (exp(r) - 1) + (2^n - 1) in one
// rounding, exact for n = 0 (|x| < ln2 / 2, no cancellation) and cancelling
// by less than a bit for n = -1. Below -87 expm1 is -1 in float, so 2^n
// stays normal. The sign of the clamped x restores -0 (the sum gives +0).
// Half of expm1()'s cost.
SO_INLINE float expm1_nonpositive(float x) {
  const float clamped = clamp_nonpositive(x, -87.0f);
  const ExpSplit split = exp_split(clamped);
  const float scale = two_to(split.n);
  return __builtin_copysignf(madd(scale, split.expm1_r, scale - 1.0f), clamped);
}

// log(1 + y) for y in [0, 1], the range softplus needs (log(1 + exp(-|z|))):
// 2 atanh(s) with s = y / (2 + y) <= 1/3, i.e. 2 s (1 + s^2 Q(s^2)), Q fitted
// over s^2 <= 1/9 (relative error 8e-9). One division, no exponent split, no
// cancellation near 0; NaN passes. 2 + y rounds (by up to a quarter of s's
// ulp, relatively), which alone took the result past 2 ulps: its rounding
// error e is exact (t - 2 is, 2 <= t <= 3) and corrects s to first order,
// y / (t + e) = s - s e / t with 1 / t = (1 - s) / 2, so 2 s_exact = 2 s +
// s e (s - 1).
SO_INLINE float log1p_unit(float y) {
  constexpr float kQ[] = {0.3333315849304199f, 0.20012454688549042f, 0.13980306684970856f, 0.14089150726795197f};
  const float t = 2.0f + y;
  const float t_error = y - (t - 2.0f);
  const float s = y / t;
  const float two_s = s + s, s2 = s * s;
  const float correction = s * madd(t_error, s, -t_error);
  return two_s + madd(two_s * s2, polynomial(s2, kQ), correction);
}

// tanh(a), a = |x|: below 0.625, a + a^3 P(a^2), P of degree 4 fitted over
// a <= 0.625 (relative error 9e-9); above, 1 - 2 / (exp(2a) + 1), which
// cancels by less than a bit there and damps exp's error (by 0.62 at
// a = 0.625, less beyond). So exp(2a) takes a cheaper form than exp_split:
// 2a = n ln2 + 2h, reduced in one step, and exp(2h) one polynomial in h,
// with 1.4 ulps at most all told.
// Beyond a = 9.1 tanh rounds to 1, so a is clamped there (NaN stays NaN):
// 2a <= 18.2 needs none of exp()'s clamps and 2^n one scaling. Both sides
// are computed and one selected, which costs less than expm1's two (its
// Taylor series and exp) and a division. The result is not negative, so
// x's sign goes on with one xor.
SO_INLINE float tanh(float x) {
  constexpr float kP[] = {-0.3333328068256378f, 0.13331441581249237f, -0.05373971536755562f, 0.02063908986747265f,
                          -0.0057049887254834175f};
  // exp(2h) = 1 + 2h + (2h)^2 kExpTerms(2h): the coefficient of h^k times
  // 2^k, exactly.
  constexpr float kExpTwice[] = {1.0f,
                                 2.0f,
                                 4.0f * kExpTerms[0],
                                 8.0f * kExpTerms[1],
                                 16.0f * kExpTerms[2],
                                 32.0f * kExpTerms[3],
                                 64.0f * kExpTerms[4]};
  const float a = __builtin_fabsf(x);
  const float s = a * a;
  const float small = madd(a * s, polynomial(s, kP), a);
  const float clamped = at_most_keeping_nan(a, 9.1f);
  const RoundedProduct n = round_product(clamped, 2.0f * 1.44269504088896341f);  // rint(2a / ln2)
  const float h = madd(n.value, -0.5f * 0.693147180559945f, clamped);
  const float exp_2a_plus_1 = madd(polynomial(h, kExpTwice), two_to(n.integer), 1.0f);
  const float large = 1.0f - 2.0f / exp_2a_plus_1;
  return with_sign_of(x, a, select(a < 0.625f, small, large));
}

// erfc(x) and exp(-x^2), the Gaussian it decays with (gelu's derivative
// needs both). For a = |x|: erfc(a) = exp(-a^2) P(a) / Q(a), P and Q of
// degrees 4 and 5 with positive coefficients (nothing cancels), fitted to
// exp(a^2) erfc(a) over a <= 10.1 (relative error 3e-8 with these float32
// coefficients). Each is 1 + a (...), so that it rounds once near 1, where
// float's relative spacing is coarsest. Beyond a = 10.2 erfc is below
// float's subnormals, so a is clamped there (NaN stays NaN through every
// step). exp(-a^2) needs none of exp()'s clamps: its argument lies in
// [-104.04, 0], where exp_split's n lies in [-150, 0]. The rounding error of
// a * a joins the reduced argument: a^2 is large in the tail, where its
// error would dominate. About half the cost of the usual form of the same
// accuracy, t Q(t) exp(-a^2) with t = 1 / (1 + a / 2) and Q of degree 10.
struct ErfcAndGaussian {
  float erfc, gaussian;
};
SO_INLINE ErfcAndGaussian erfc_and_gaussian(float x) {
  constexpr float kP[] = {1.2384127378463745f, 0.7316057682037354f, 0.2292192280292511f, 0.0327964685857296f};
  constexpr float kQ[] = {2.3667924404144287f, 2.402235746383667f, 1.325371503829956f, 0.4063068926334381f,
                          0.05812952667474747f};
  const float a = at_most_keeping_nan(__builtin_fabsf(x), 10.2f);
  const float a2 = a * a;
  const ExpSplit split = exp_split(-a2, -square_rounding_error(a, a2));
  const float gaussian = split.value_at_most_one();
  const float ratio = madd(a, polynomial(a, kP), 1.0f) / madd(a, polynomial(a, kQ), 1.0f);
  const float erfc = gaussian * ratio;
  return {select(x < 0.0f, 2.0f - erfc, erfc), gaussian};
}

SO_INLINE float erfc(float x) { return erfc_and_gaussian(x).erfc; }

}  // namespace float_math
SO_ISA_END
}  // namespace spatial_ops
