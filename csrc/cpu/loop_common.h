// Pieces shared by the CPU forward and backward loops.
#pragma once

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/activations.h"
#include "cpu/streaming.h"
#include "core/spec.h"
#include "core/storage.h"

namespace spatial_ops {
SO_ISA_BEGIN
namespace cpu {

// Spatial elements per work unit: large enough to amortise scheduling, small
// enough that a unit's weights and partial sums stay in L1/L2.
constexpr int64_t kSpatialBlock = 4096;
// Rough cost of one element in cycles, for the thread pool's cost model.
constexpr int64_t kForwardCyclesPerElement = 8;
constexpr int64_t kBackwardCyclesPerElement = 16;

// The loops that run an activation's math over a chunk are instantiated per
// (activation, compute type) and reached through function pointers; the
// loops that walk, convert and stream the data are instantiated per storage
// type alone. Templating the walking loops on the activation as well
// compiled them once per activation and dtype: three times the build time,
// for no speed (a call per chunk of up to kStreamChunk elements).
// LoopsOf<Act, T>::loops for the spec's activation (or its derivative).
template <template <class, class> class LoopsOf, class T> const auto& loops_for(const SpatialDenseSpec& spec) {
  return dispatch_activation<T>(spec,
                                [](auto activation) -> const auto& { return LoopsOf<decltype(activation), T>::loops; });
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The type the loops read the weights in: the compute type, so half-type
// weights are converted once per call (they are small beside x) rather than
// at every batch row; the hot loops convert x alone.
template <class S> using weight_t = compute_t<S>;

// The kernel and bias operands as weight_t: the caller's arrays where that
// is their type, else converted copies; a bias of zeros when the call has
// none, which keeps the hot loops free of branches (vectorisable);
// x * kernel + 0 equals x * kernel but for the sign of a zero.
template <class S> class WeightOperands {
 public:
  using W = weight_t<S>;
  WeightOperands(const SpatialDenseSpec& spec, const void* kernel, const void* bias) {
    const int64_t n = spec.shape.spatial_size();
    kernel_ = as_weights(static_cast<const S*>(kernel), n, kernel_copy_);
    if (spec.has_bias) {
      bias_ = as_weights(static_cast<const S*>(bias), n, bias_copy_);
    } else {
      bias_copy_.assign(n, W{});
      bias_ = bias_copy_.data();
    }
  }
  const W* kernel() const { return kernel_; }
  const W* bias() const { return bias_; }

 private:
  static const W* as_weights(const S* values, int64_t n, std::vector<W>& copy) {
    if constexpr (std::is_same_v<S, W>) {
      return values;
    } else {
      copy.resize(n);
      for (int64_t i = 0; i < n; ++i) copy[i] = load(values[i]);
      return copy.data();
    }
  }
  std::vector<W> kernel_copy_, bias_copy_;
  const W* kernel_;
  const W* bias_;
};

}  // namespace cpu
SO_ISA_END
}  // namespace spatial_ops
