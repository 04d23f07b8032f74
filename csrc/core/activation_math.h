// The few math functions the activations need, overloaded for float and
// double so one template serves both, callable from host and device code.
// float on the host uses float_math.h (vectorisable); double and the device use
// libm / CUDA's own functions.
#pragma once

#include <math.h>

#include "core/portability.h"
#if !defined(__CUDA_ARCH__)
#include "core/float_math.h"
#endif

namespace spatial_ops {
SO_ISA_BEGIN
namespace math {

#if defined(__CUDA_ARCH__)
#define SO_FLOAT_FN(float_fn, fast_fn) ::float_fn
#else
#define SO_FLOAT_FN(float_fn, fast_fn) fast_fn
#endif

#define SO_UNARY(name, float_fn, fast_fn, double_fn)                      \
  SO_HD float name(float v) { return SO_FLOAT_FN(float_fn, fast_fn)(v); } \
  SO_HD double name(double v) { return ::double_fn(v); }

SO_UNARY(exp, expf, float_math::exp, exp)
SO_UNARY(expm1, expm1f, float_math::expm1, expm1)
SO_UNARY(log1p_unit, log1pf, float_math::log1p_unit, log1p)  // y in [0, 1]
SO_UNARY(tanh, tanhf, float_math::tanh, tanh)
SO_UNARY(erfc, erfcf, float_math::erfc, erfc)
SO_UNARY(sqrt, sqrtf, ::sqrtf, sqrt)
SO_UNARY(abs, fabsf, ::fabsf, fabs)
#undef SO_UNARY
#undef SO_FLOAT_FN

// exp(min(v, 0)) and expm1(min(v, 0)), NaN kept: the host's float path has
// cheaper forms for this half of the range (float_math.h).
template <class T> SO_HD T at_most_zero(T v) { return v > T(0) ? T(0) : v; }
#if defined(__CUDA_ARCH__)
#define SO_FLOAT_NONPOSITIVE(float_fn, fast_fn, v) ::float_fn(at_most_zero(v))
#else
#define SO_FLOAT_NONPOSITIVE(float_fn, fast_fn, v) fast_fn(v)
#endif
#define SO_UNARY_NONPOSITIVE(name, float_fn, fast_fn, double_fn)                   \
  SO_HD float name(float v) { return SO_FLOAT_NONPOSITIVE(float_fn, fast_fn, v); } \
  SO_HD double name(double v) { return ::double_fn(at_most_zero(v)); }

SO_UNARY_NONPOSITIVE(exp_nonpositive, expf, float_math::exp_nonpositive, exp)
SO_UNARY_NONPOSITIVE(expm1_nonpositive, expm1f, float_math::expm1_nonpositive, expm1)
#undef SO_UNARY_NONPOSITIVE
#undef SO_FLOAT_NONPOSITIVE

// exp(v) for v that cannot be positive (-|z|, -z^2): on the host's float
// path, exp_nonpositive without its clamp at 0.
SO_HD float exp_of_nonpositive(float v) {
#if defined(__CUDA_ARCH__)
  return ::expf(v);
#else
  return float_math::exp_of_nonpositive(v);
#endif
}
SO_HD double exp_of_nonpositive(double v) { return ::exp(v); }

// erfc(v) and exp(-v^2) together: on the host's float path the second is a
// step of the first (float_math.h), which gelu's derivative uses.
template <class T> struct ErfcAndGaussian {
  T erfc, gaussian;
};
SO_HD ErfcAndGaussian<float> erfc_and_gaussian(float v) {
#if defined(__CUDA_ARCH__)
  return {::erfcf(v), ::expf(-v * v)};
#else
  const float_math::ErfcAndGaussian r = float_math::erfc_and_gaussian(v);
  return {r.erfc, r.gaussian};
#endif
}
SO_HD ErfcAndGaussian<double> erfc_and_gaussian(double v) { return {::erfc(v), ::exp(-v * v)}; }

// NaN in the first operand propagates, as in TensorFlow's Relu, Relu6 and
// clip_by_value (a NaN input gives NaN, never the bound).
template <class T> SO_HD T max(T a, T b) { return ((a != a) | (a > b)) ? a : b; }
template <class T> SO_HD T min(T a, T b) { return ((a != a) | (a < b)) ? a : b; }

// x * w + b rounded after each step, exactly as TensorFlow's separate Mul and
// Add kernels do, so z lands on the same side of every activation kink as in
// the composite. Host code is built with -ffp-contract=off (CMakeLists.txt) so
// the compiler never fuses these into one multiply-add.
SO_HD float affine(float x, float w, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(__fmul_rn(x, w), b);
#else
  return x * w + b;
#endif
}
SO_HD double affine(double x, double w, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(__dmul_rn(x, w), b);
#else
  return x * w + b;
#endif
}

}  // namespace math
SO_ISA_END
}  // namespace spatial_ops
