// Pieces shared by the CPU forward and backward loops.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "activations.h"
#include "spec.h"
#include "storage.h"

namespace spatial_ops {
SO_ISA_BEGIN
namespace cpu {

// Spatial elements per work unit: large enough to amortise scheduling, small
// enough that a unit's weights and partial sums stay in L1/L2.
constexpr int64_t kSpatialBlock = 4096;
// Rough cost of one element in cycles, for the thread pool's cost model.
constexpr int64_t kForwardCyclesPerElement = 8;
constexpr int64_t kBackwardCyclesPerElement = 16;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// z = x * kernel + bias at spatial index n.
template <class S>
inline compute_t<S> z_at(const S* x_row, const S* kernel, const S* bias, int64_t n) {
  return math::affine(load(x_row[n]), load(kernel[n]), load(bias[n]));
}

// The bias operand: the caller's, or zeros when the call has none. A bias
// that is always there keeps the hot loops free of branches (vectorisable);
// x * kernel + 0 equals x * kernel but for the sign of a zero.
template <class S> class BiasOperand {
 public:
  BiasOperand(const SpatialDenseSpec& spec, const void* bias) {
    if (!spec.has_bias) zeros_.assign(spec.shape.spatial_size(), S{});
    data_ = spec.has_bias ? static_cast<const S*>(bias) : zeros_.data();
  }
  const S* data() const { return data_; }

 private:
  std::vector<S> zeros_;
  const S* data_;
};

}  // namespace cpu
SO_ISA_END
}  // namespace spatial_ops
