// Pieces shared by the CPU forward and backward loops.
#pragma once

#include <algorithm>
#include <cstdint>

#include "activations.h"
#include "storage.h"

namespace spatial_ops {
namespace cpu {

// Spatial elements per work unit: large enough to amortise scheduling, small
// enough that a unit's weights and partial sums stay in L1/L2.
constexpr int64_t kSpatialBlock = 4096;
// Rough cost of one element in cycles, for the thread pool's cost model.
constexpr int64_t kForwardCyclesPerElement = 8;
constexpr int64_t kBackwardCyclesPerElement = 16;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// z = x * kernel + bias at spatial index n (bias may be null: no bias).
template <class S>
inline compute_t<S> z_at(const S* x_row, const S* kernel, const S* bias, int64_t n) {
  using T = compute_t<S>;
  const T xv = load(x_row[n]), wv = load(kernel[n]);
  return bias ? math::affine(xv, wv, load(bias[n])) : xv * wv;
}

}  // namespace cpu
}  // namespace spatial_ops
