// Conversion of the stored element types (dtypes.h) to and from the type the
// math runs in, bit-exact with Eigen's and CUDA's rounding.
#pragma once

#include <cstdint>
#include <cstring>

#include "dtypes.h"
#include "portability.h"

namespace spatial_ops {

SO_ISA_BEGIN

SO_HD float bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
SO_HD uint32_t float_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

SO_HD float load(float v) { return v; }
SO_HD double load(double v) { return v; }

SO_HD float load(bfloat16 v) { return bits_to_float(uint32_t(v.bits) << 16); }

// IEEE half -> float, exact for every input (subnormals, Inf, NaN). On the
// GPU the conversion instructions give the same values (NaN payloads aside)
// in far fewer registers.
SO_HD float load(float16 v) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.bits));
  return f;
#endif
  const uint32_t sign = uint32_t(v.bits & 0x8000u) << 16;
  const uint32_t exponent = (v.bits >> 10) & 0x1fu;
  const uint32_t mantissa = v.bits & 0x3ffu;
  if (exponent == 0x1fu) return bits_to_float(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return bits_to_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
  // Subnormal half: mantissa * 2^-24, exact in float.
  const float magnitude = float(mantissa) * 5.9604644775390625e-8f;
  return sign ? -magnitude : magnitude;
}

template <class Storage> SO_HD Storage store(compute_t<Storage> v);
template <> SO_HD float store<float>(float v) { return v; }
template <> SO_HD double store<double>(double v) { return v; }

// float -> bfloat16, round to nearest even; NaN stays a quiet NaN.
template <> SO_HD bfloat16 store<bfloat16>(float v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  bfloat16 result;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(result.bits) : "f"(v));
  return result;
#endif
  const uint32_t u = float_to_bits(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bfloat16{uint16_t((u >> 16) | 0x40u)};
  return bfloat16{uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};
}

// float -> IEEE half, round to nearest even, overflow to Inf, NaN kept quiet.
template <> SO_HD float16 store<float16>(float v) {
#if defined(__CUDA_ARCH__)
  float16 result;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(result.bits) : "f"(v));
  return result;
#endif
  uint32_t u = float_to_bits(v);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return float16{uint16_t(sign | 0x7e00u | ((u >> 13) & 0x3ffu))};
  if (u >= 0x477ff000u) return float16{uint16_t(sign | 0x7c00u)};  // rounds to >= 65520: Inf
  if (u < 0x38800000u) {  // below 2^-14: subnormal half (or zero)
    if (u < 0x33000000u) return float16{sign};  // below half of the smallest subnormal
    const uint32_t exponent = u >> 23;
    const uint32_t mantissa = (u & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - exponent;  // 14..24
    const uint32_t halfway = 1u << (shift - 1);
    uint32_t result = mantissa >> shift;
    const uint32_t remainder = mantissa & ((1u << shift) - 1u);
    if (remainder > halfway || (remainder == halfway && (result & 1u))) ++result;
    return float16{uint16_t(sign | result)};
  }
  // Normal: rebias the exponent and round the 13 dropped mantissa bits.
  const uint32_t rounded = u + 0xfffu + ((u >> 13) & 1u);
  return float16{uint16_t(sign | ((rounded - (112u << 23)) >> 13))};
}

// Calls f(Storage{}) for the dtype, so callers instantiate one template per
// dtype from a single definition.
template <class F> decltype(auto) dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat16: return f(float16{});
    case DType::kBFloat16: return f(bfloat16{});
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: break;
  }
  return f(double{});
}

SO_ISA_END
}  // namespace spatial_ops
