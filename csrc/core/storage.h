// Conversion of the stored element types (dtypes.h) to and from the type the
// math runs in, bit-exact with Eigen's and CUDA's rounding.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/dtypes.h"
#include "core/portability.h"

namespace spatial_ops {

SO_ISA_BEGIN

SO_HD float bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
SO_HD uint32_t float_to_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

SO_HD float load(float v) { return v; }
SO_HD double load(double v) { return v; }

SO_HD float load(bfloat16 v) { return bits_to_float(uint32_t(v.bits) << 16); }

// IEEE half -> float, exact for every input (subnormals, Inf, NaN). Written
// with selects and no branches so the CPU loops that call it vectorise; on
// the GPU the conversion instruction gives the same values (NaN payloads
// aside) in far fewer registers.
SO_HD float load(float16 v) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.bits));
  return f;
#endif
  const uint32_t magnitude = uint32_t(v.bits & 0x7fffu) << 13;  // exponent and mantissa, float-aligned
  const uint32_t exponent = magnitude & 0x0f800000u;
  const uint32_t rebiased = magnitude + ((127u - 15u) << 23);
  // Inf/NaN: the exponent goes all ones. Zero/subnormal: the mantissa is
  // read as a normal float 2^-14 (1 + m) and 2^-14 subtracted exactly, which
  // leaves 2^-14 m, normalised.
  const uint32_t special = rebiased + ((128u - 16u) << 23);
  const float subnormal = bits_to_float(rebiased + (1u << 23)) - bits_to_float(113u << 23);
  const uint32_t bits = exponent == 0x0f800000u ? special : exponent == 0 ? float_to_bits(subnormal) : rebiased;
  return bits_to_float(bits | (uint32_t(v.bits & 0x8000u) << 16));
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

// float -> IEEE half, round to nearest even, overflow to Inf, NaN kept quiet
// (its top payload bits kept). Branch-free, as load(float16).
template <> SO_HD float16 store<float16>(float v) {
#if defined(__CUDA_ARCH__)
  float16 result;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(result.bits) : "f"(v));
  return result;
#endif
  const uint32_t u = float_to_bits(v) & 0x7fffffffu;
  const uint32_t sign = (float_to_bits(v) >> 16) & 0x8000u;
  const uint32_t nan = 0x7e00u | ((u >> 13) & 0x3ffu);
  // Below 2^-14 (half subnormal or zero): adding 0.5 puts the half mantissa
  // in the float's low bits, rounded to nearest even by the float addition.
  const uint32_t subnormal = float_to_bits(bits_to_float(u) + 0.5f) - 0x3f000000u;
  // Normal: rebias the exponent and round the 13 dropped mantissa bits to even.
  const uint32_t normal = (u - (112u << 23) + 0xfffu + ((u >> 13) & 1u)) >> 13;
  const uint32_t bits = u > 0x7f800000u    ? nan
                        : u >= 0x477ff000u ? 0x7c00u  // rounds to >= 65520: Inf
                        : u < 0x38800000u  ? subnormal
                                           : normal;
  return float16{uint16_t(sign | bits)};
}

// Calls f(Storage{}) for the dtype, so callers instantiate one template per
// dtype from a single definition.
template <class F> decltype(auto) dispatch_dtype(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kFloat16:
      return f(float16{});
    case DType::kBFloat16:
      return f(bfloat16{});
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat64:
      break;
  }
  return f(double{});
}

SO_ISA_END
}  // namespace spatial_ops
