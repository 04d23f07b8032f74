// Element types the kernels store, and the type each computes in. float16
// and bfloat16 are plain 16-bit patterns, so core/ depends on neither Eigen
// nor CUDA's headers; both share these bit layouts.
#pragma once

#include <cstdint>

namespace spatial_ops {

struct float16 {
  uint16_t bits;
};
struct bfloat16 {
  uint16_t bits;
};

enum class DType { kFloat16, kBFloat16, kFloat32, kFloat64 };

// Bytes per stored element.
constexpr int64_t size_of(DType dtype) { return dtype == DType::kFloat64 ? 8 : dtype == DType::kFloat32 ? 4 : 2; }

// Half types compute and accumulate in float32.
template <class Storage> struct ComputeTypeOf {
  using type = Storage;
};
template <> struct ComputeTypeOf<float16> {
  using type = float;
};
template <> struct ComputeTypeOf<bfloat16> {
  using type = float;
};
template <class Storage> using compute_t = typename ComputeTypeOf<Storage>::type;

}  // namespace spatial_ops
