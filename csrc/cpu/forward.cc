#include "cpu/spatial_dense_cpu.h"
#include "cpu/isa.h"
#include "cpu/loop_common.h"

namespace spatial_ops {
SO_ISA_BEGIN
namespace cpu {
namespace {

// Partial sums in a fixed number of lanes combined in a fixed tree: the
// order depends on the length alone, and the compiler may vectorise it.
constexpr int kLanes = 16;  // one AVX-512 register of float
static_assert(kStreamChunk % kLanes == 0, "a run added in chunks sums each lane in order");

template <class T> struct LaneSums {
  T lanes[kLanes] = {};

  // Adds term(i) for i in [begin, end). Where begin is a multiple of
  // kLanes, adding a run in pieces gives the same bits as adding it whole.
  template <class F> void add(int64_t begin, int64_t end, const F& term) {
    int64_t i = begin;
    for (; i + kLanes <= end; i += kLanes) {
      for (int j = 0; j < kLanes; ++j) lanes[j] += term(i + j);
    }
    for (int j = 0; i + j < end; ++j) lanes[j] += term(i + j);
  }

  // The pairwise tree, unrolled whole so that it runs in registers: as a
  // loop it went through memory, one dependent add at a time, and took a
  // fifth of a reduced forward's time over rows of 128 (perf, AVX2 build).
  T total() {
#pragma GCC unroll 4
    for (int width = kLanes / 2; width > 0; width /= 2) {
#pragma GCC unroll 8
      for (int j = 0; j < width; ++j) lanes[j] += lanes[j + width];
    }
    return lanes[0];
  }
};

// An activation's element loops for compute type T, reached through
// pointers (loop_common.h says why): ys = act(z) over a chunk, sums += act(z)
// over a chunk, and act(z) added to lane sums along a reduced run.
template <class T> struct ForwardLoops {
  void (*activations_of)(int64_t n, const T* xs, const T* kernel, const T* bias, T* ys, Params<T> params);
  void (*add_activations)(int64_t n, const T* xs, const T* kernel, const T* bias, T* sums, Params<T> params);
  void (*add_activations_in_lanes)(LaneSums<T>* sums, int64_t r0, int64_t r1, const T* xs, const T* kernel,
                                   const T* bias, Params<T> params);
};

// Parameters by value and restrict-qualified pointers: nothing aliases, so
// the compiler vectorises the loops.
template <class Act, class T> struct ForwardLoopsOf {
  static void activations_of(int64_t n, const T* __restrict__ xs, const T* __restrict__ kernel,
                             const T* __restrict__ bias, T* __restrict__ ys, const Params<T> params) {
    for (int64_t i = 0; i < n; ++i) ys[i] = Act::value(math::affine(xs[i], kernel[i], bias[i]), params);
  }
  static void add_activations(int64_t n, const T* __restrict__ xs, const T* __restrict__ kernel,
                              const T* __restrict__ bias, T* __restrict__ sums, const Params<T> params) {
    for (int64_t i = 0; i < n; ++i) sums[i] += Act::value(math::affine(xs[i], kernel[i], bias[i]), params);
  }
  // xs holds x from r0 on; kernel and bias are indexed by r. The sums are
  // copied in and out, so that they live in registers in between.
  static void add_activations_in_lanes(LaneSums<T>* sums, int64_t r0, int64_t r1, const T* __restrict__ xs,
                                       const T* __restrict__ kernel, const T* __restrict__ bias,
                                       const Params<T> params) {
    LaneSums<T> local = *sums;
    local.add(r0, r1, [&](int64_t r) { return Act::value(math::affine(xs[r - r0], kernel[r], bias[r]), params); });
    *sums = local;
  }
  static constexpr ForwardLoops<T> loops{activations_of, add_activations, add_activations_in_lanes};
};

// y[b, n] = act(z[b, n]) over units of (batch row, spatial block).
template <class S>
void forward_elementwise(const SpatialDenseSpec& spec, const S* x, const weight_t<S>* kernel, const weight_t<S>* bias,
                         S* y, const ForwardLoops<compute_t<S>>& loops, const ParallelFor& parallel_for) {
  using T = compute_t<S>;
  const Params<T> params(spec.params);
  const int64_t n_total = spec.shape.spatial_size();
  const int64_t x_prefetch_size = prefetched_size<S>(spec.shape.batch * n_total);
  const bool streaming = is_streamed<S>(spec.shape.batch * n_total);
  // y in x's buffer: results go through the chunk buffer, so that the chunk
  // loop's inputs and outputs never alias.
  const bool in_place = static_cast<const void*>(x) == static_cast<const void*>(y);
  const int64_t blocks = ceil_div(n_total, kSpatialBlock);
  const int64_t cost = std::min(n_total, kSpatialBlock) * kForwardCyclesPerElement;
  parallel_for(spec.shape.batch * blocks, cost, [&](int64_t begin, int64_t end) {
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t b = unit / blocks;
      const int64_t n0 = (unit % blocks) * kSpatialBlock;
      const int64_t n1 = std::min(n_total, n0 + kSpatialBlock);
      const S* x_row = x + b * n_total;
      S* y_row = y + b * n_total;
      for (int64_t m0 = n0; m0 < n1; m0 += kStreamChunk) {
        const int64_t m1 = std::min(n1, m0 + kStreamChunk);
        const int64_t ahead = b * n_total + prefetch_distance<S>();
        prefetch(x, ahead + m0, ahead + m1, x_prefetch_size);
        alignas(64) T x_chunk[kStreamChunk], y_chunk[kStreamChunk];
        const T* xs = load_chunk(x_row + m0, m1 - m0, x_chunk);
        T* ys = output_chunk(y_row + m0, streaming || in_place, y_chunk);
        loops.activations_of(m1 - m0, xs, kernel + m0, bias + m0, ys, params);
        write_out(y_row + m0, ys, m1 - m0, streaming);
      }
    }
    end_streaming();
  });
}

// y[b, a, c] = sum (or mean) over r of act(z[b, a, r, c]); each output is
// summed whole by one thread, in a fixed order.
template <class S>
void forward_reduced(const SpatialDenseSpec& spec, const S* x, const weight_t<S>* kernel, const weight_t<S>* bias, S* y,
                     const ForwardLoops<compute_t<S>>& loops, const ParallelFor& parallel_for) {
  using T = compute_t<S>;
  constexpr int64_t kInnerBlock = kStreamChunk;  // accumulators kept on the stack
  const Params<T> params(spec.params);
  const auto& shape = spec.shape;
  const int64_t n_total = shape.spatial_size();
  const int64_t x_prefetch_size = prefetched_size<S>(shape.batch * n_total);
  const int64_t inner_blocks = ceil_div(shape.inner, kInnerBlock);
  // x is read along r, inner elements a step: prefetch whole steps ahead.
  const int64_t step = std::max<int64_t>(shape.inner, 1);  // inner may be 0: an empty x
  const int64_t ahead = ceil_div(prefetch_distance<S>(), step) * step;
  // A sum divides by nothing: a division by 1 per output, exact, still cost
  // its latency once per row.
  const bool mean = spec.reduction == Reduction::kMean;
  const T divisor = T(shape.reduced);
  const int64_t cost = shape.reduced * std::min(shape.inner, kInnerBlock) * kForwardCyclesPerElement;
  parallel_for(shape.batch * shape.outer * inner_blocks, cost, [&](int64_t begin, int64_t end) {
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t row = unit / inner_blocks;  // b * outer + a
      const int64_t b = row / shape.outer, a = row % shape.outer;
      const int64_t c0 = (unit % inner_blocks) * kInnerBlock;
      const int64_t c1 = std::min(shape.inner, c0 + kInnerBlock);
      const S* x_row = x + b * n_total;
      const int64_t base = a * shape.reduced * shape.inner;  // spatial index of (a, 0, 0)
      S* y_out = y + row * shape.inner;
      const int64_t row_start = b * n_total + base;  // x's flat index of (b, a, 0, 0)
      if (shape.inner == 1) {
        LaneSums<T> sums;
        for (int64_t r0 = 0; r0 < shape.reduced; r0 += kStreamChunk) {
          const int64_t r1 = std::min(shape.reduced, r0 + kStreamChunk);
          prefetch(x, row_start + r0 + ahead, row_start + r1 + ahead, x_prefetch_size);
          alignas(64) T x_chunk[kStreamChunk];
          const T* xs = load_chunk(x + row_start + r0, r1 - r0, x_chunk);
          loops.add_activations_in_lanes(&sums, r0, r1, xs, kernel + base, bias + base, params);
        }
        y_out[0] = store<S>(mean ? sums.total() / divisor : sums.total());
        continue;
      }
      T sums[kInnerBlock] = {};
      for (int64_t r = 0; r < shape.reduced; ++r) {
        const int64_t offset = base + r * shape.inner;
        const int64_t next = row_start + r * shape.inner + ahead;
        prefetch(x, next + c0, next + c1, x_prefetch_size);
        alignas(64) T x_chunk[kInnerBlock];
        const T* xs = load_chunk(x_row + offset + c0, c1 - c0, x_chunk);
        loops.add_activations(c1 - c0, xs, kernel + offset + c0, bias + offset + c0, sums, params);
      }
      for (int64_t c = c0; c < c1; ++c) y_out[c] = store<S>(mean ? sums[c - c0] / divisor : sums[c - c0]);
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
    using T = compute_t<S>;
    const cpu::ForwardLoops<T>& loops = cpu::loops_for<cpu::ForwardLoopsOf, T>(spec);
    const auto run = spec.reduces() ? cpu::forward_reduced<S> : cpu::forward_elementwise<S>;
    const cpu::WeightOperands<S> weights(spec, kernel, bias);
    run(spec, static_cast<const S*>(x), weights.kernel(), weights.bias(), static_cast<S*>(y), loops, parallel_for);
  });
}

}  // namespace spatial_ops
