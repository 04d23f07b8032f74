#include "cpu.h"
#include "cpu_isa.h"
#include "cpu_common.h"

namespace spatial_ops {
SO_ISA_BEGIN
namespace cpu {
namespace {

// Partial sums in a fixed number of lanes combined in a fixed tree: the
// order depends on the length alone, and the compiler may vectorise it.
constexpr int kLanes = 16;  // one AVX-512 register of float

template <class T, class F> T fixed_order_sum(int64_t length, const F& term) {
  T lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= length; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] += term(i + j);
  }
  for (int j = 0; i + j < length; ++j) lanes[j] += term(i + j);
  for (int width = kLanes / 2; width > 0; width /= 2) {  // pairwise tree
    for (int j = 0; j < width; ++j) lanes[j] += lanes[j + width];
  }
  return lanes[0];
}

// y[b, n] = act(z[b, n]) over units of (batch row, spatial block).
template <class S, class Act>
void forward_elementwise(const SpatialDenseSpec& spec, const S* x, const weight_t<S>* kernel,
                         const weight_t<S>* bias, S* y, const ParallelFor& parallel_for) {
  using T = compute_t<S>;
  const Params<T> params(spec.params);
  const int64_t n_total = spec.shape.spatial_size();
  const int64_t blocks = ceil_div(n_total, kSpatialBlock);
  const int64_t cost = std::min(n_total, kSpatialBlock) * kForwardCyclesPerElement;
  parallel_for(spec.shape.batch * blocks, cost, [&](int64_t begin, int64_t end) {
    const Params<T> local_params = params;  // a local copy: stores to y cannot alias it
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t b = unit / blocks;
      const int64_t n0 = (unit % blocks) * kSpatialBlock;
      const int64_t n1 = std::min(n_total, n0 + kSpatialBlock);
      const S* x_row = x + b * n_total;
      S* y_row = y + b * n_total;
      for (int64_t n = n0; n < n1; ++n) {
        y_row[n] = store<S>(Act::value(z_at(x_row, kernel, bias, n), local_params));
      }
    }
  });
}

// y[b, a, c] = sum (or mean) over r of act(z[b, a, r, c]); each output is
// summed whole by one thread, in a fixed order.
template <class S, class Act>
void forward_reduced(const SpatialDenseSpec& spec, const S* x, const weight_t<S>* kernel,
                     const weight_t<S>* bias, S* y, const ParallelFor& parallel_for) {
  using T = compute_t<S>;
  constexpr int64_t kInnerBlock = 256;  // accumulators kept on the stack
  const Params<T> params(spec.params);
  const auto& shape = spec.shape;
  const int64_t n_total = shape.spatial_size();
  const int64_t inner_blocks = ceil_div(shape.inner, kInnerBlock);
  const T divisor = spec.reduction == Reduction::kMean ? T(shape.reduced) : T(1);
  const int64_t cost =
      shape.reduced * std::min(shape.inner, kInnerBlock) * kForwardCyclesPerElement;
  parallel_for(shape.batch * shape.outer * inner_blocks, cost, [&](int64_t begin, int64_t end) {
    const Params<T> local_params = params;  // a local copy: stores cannot alias it
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t row = unit / inner_blocks;  // b * outer + a
      const int64_t b = row / shape.outer, a = row % shape.outer;
      const int64_t c0 = (unit % inner_blocks) * kInnerBlock;
      const int64_t c1 = std::min(shape.inner, c0 + kInnerBlock);
      const S* x_row = x + b * n_total;
      const int64_t base = a * shape.reduced * shape.inner;  // spatial index of (a, 0, 0)
      S* y_out = y + row * shape.inner;
      if (shape.inner == 1) {
        const T sum = fixed_order_sum<T>(shape.reduced, [&](int64_t r) {
          return Act::value(z_at(x_row, kernel, bias, base + r), local_params);
        });
        y_out[0] = store<S>(sum / divisor);
        continue;
      }
      T sums[kInnerBlock] = {};
      for (int64_t r = 0; r < shape.reduced; ++r) {
        const int64_t offset = base + r * shape.inner;
        for (int64_t c = c0; c < c1; ++c) {
          sums[c - c0] += Act::value(z_at(x_row, kernel, bias, offset + c), local_params);
        }
      }
      for (int64_t c = c0; c < c1; ++c) y_out[c] = store<S>(sums[c - c0] / divisor);
    }
  });
}

}  // namespace
}  // namespace cpu
SO_ISA_END

void SO_ISA_ENTRY(spatial_dense_forward_cpu)(const SpatialDenseSpec& spec, DType dtype, const void* x,
                               const void* kernel, const void* bias, void* y,
                               const ParallelFor& parallel_for) {
  dispatch_dtype(dtype, [&](auto storage) {
    using S = decltype(storage);
    dispatch_activation<compute_t<S>>(spec, [&](auto activation) {
      using Act = decltype(activation);
      const auto run = spec.reduces() ? cpu::forward_reduced<S, Act> : cpu::forward_elementwise<S, Act>;
      const cpu::WeightOperands<S> weights(spec, kernel, bias);
      run(spec, static_cast<const S*>(x), weights.kernel(), weights.bias(), static_cast<S*>(y),
          parallel_for);
    });
  });
}

}  // namespace spatial_ops
