#include <algorithm>
#include <memory>
#include <type_traits>

#include "cpu/spatial_dense_cpu.h"
#include "cpu/isa.h"
#include "cpu/loop_common.h"

namespace spatial_ops {
SO_ISA_BEGIN
namespace cpu {
namespace {

// How many blocks the batch is cut into for dkernel/dbias partial sums. A
// function of the shape alone: the summation order, hence every bit of the
// result, never depends on the number of threads.
int64_t batch_blocks(int64_t batch, int64_t n_total, int64_t spatial_blocks) {
  constexpr int64_t kTargetUnits = 64;
  constexpr int64_t kMinUnitElements = 16384;
  if (spatial_blocks == 0) return 1;  // no spatial elements: nothing to split
  const int64_t wanted = ceil_div(kTargetUnits, spatial_blocks);
  const int64_t affordable = batch * std::min(n_total, kSpatialBlock) / kMinUnitElements;
  return std::max<int64_t>(1, std::min({wanted, affordable, batch}));
}

// A span of elements of one batch row that read their incoming gradient g
// alike: g[i] along the span, or one g[0] for all of it (a reduced axis), all
// in the compute type (a mean's division by R already done). dz = g * act'(z);
// dx = dz * kernel; dkernel and dbias accumulate. Restrict-qualified
// pointers and no branches let the compiler vectorise it. Reached through
// pointers (loop_common.h says why).
template <class Act, bool kScalarDy, class T>
void backward_span(int64_t length, const T* __restrict__ g, const T* __restrict__ x, const T* __restrict__ kernel,
                   const T* __restrict__ bias, T* __restrict__ dx, T* __restrict__ acc_kernel, T* __restrict__ acc_bias,
                   const Params<T> params) {  // by value: no aliasing
  for (int64_t i = 0; i < length; ++i) {
    const T xv = x[i], wv = kernel[i];
    const T dz = g[kScalarDy ? 0 : i] * Act::derivative(math::affine(xv, wv, bias[i]), params);
    dx[i] = dz * wv;
    acc_kernel[i] += dz * xv;
    acc_bias[i] += dz;
  }
}

// An activation's backward_span for compute type T: with dy along the span,
// and with one dy for all of it.
template <class T> struct BackwardLoops {
  using Span = void (*)(int64_t length, const T* g, const T* x, const T* kernel, const T* bias, T* dx, T* acc_kernel,
                        T* acc_bias, Params<T> params);
  Span span, span_scalar_dy;
};
template <class Act, class T> struct BackwardLoopsOf {
  static constexpr BackwardLoops<T> loops{backward_span<Act, false, T>, backward_span<Act, true, T>};
};

template <class S>
struct Backward {
  using T = compute_t<S>;
  const SpatialDenseSpec& spec;
  const Params<T> params;
  const S* dy;
  const weight_t<S>*kernel, *bias;
  const BackwardLoops<T>& loops;

  // A chunk [n0, n1) of batch row b: xs[0, n1 - n0) holds x there in the
  // compute type, and without a reduction dys dy; dx_out receives dx. With
  // a reduction, dy[b, a, c] (divided by R for a mean, once per span, as
  // TensorFlow's mean gradient divides dy before spreading it) is the
  // incoming gradient of every r: walk the range in spans that share a row
  // of dy so no loop holds a division by C.
  void row(int64_t b, int64_t n0, int64_t n1, const T* xs, const T* dys, T* dx_out, T* acc_kernel, T* acc_bias) const {
    const auto& shape = spec.shape;
    const auto span = [&](bool scalar_dy, int64_t n, int64_t length, const T* g_span) {
      (scalar_dy ? loops.span_scalar_dy : loops.span)(length, g_span, xs + (n - n0), kernel + n, bias + n,
                                                      dx_out + (n - n0), acc_kernel + n, acc_bias + n, params);
    };
    if (!spec.reduces()) {
      span(false, n0, n1 - n0, dys);
      return;
    }
    const T divisor = spec.reduction == Reduction::kMean ? T(shape.reduced) : T(1);
    const S* dy_row = dy + b * shape.outer * shape.inner;
    int64_t c = n0 % shape.inner;
    int64_t r = (n0 / shape.inner) % shape.reduced;
    int64_t a = n0 / shape.inner / shape.reduced;
    for (int64_t n = n0; n < n1;) {
      if (shape.inner == 1) {  // one dy value for a span along r
        const int64_t length = std::min(shape.reduced - r, n1 - n);
        const T g = load(dy_row[a]) / divisor;
        span(true, n, length, &g);
        n += length;
        r = 0;
        ++a;
      } else {  // dy values contiguous along c
        const int64_t length = std::min(shape.inner - c, n1 - n);
        alignas(64) T g_chunk[kStreamChunk];
        const T* g = load_chunk(dy_row + a * shape.inner + c, length, g_chunk);
        if (divisor != T(1)) {
          for (int64_t i = 0; i < length; ++i) g_chunk[i] = g[i] / divisor;
          g = g_chunk;
        }
        span(false, n, length, g);
        n += length;
        c = 0;
        if (++r == shape.reduced) {
          r = 0;
          ++a;
        }
      }
    }
  }
};

// Scratch for the batch blocks' partial sums, uninitialised. Up to
// kStreamingBytes it is kept per calling thread from call to call: where
// malloc maps a fresh allocation of this size for every call, faulting its
// pages in costs more than the kernel (1.5 against 0.6 ns per element for
// x (64, 1, 128, 128), one thread). Larger scratch is allocated per call, so
// no thread holds on to it, and so is scratch for a backward that starts on
// a thread whose cached scratch is in use (a scheduler that runs another
// op's backward on a thread waiting in parallel_for).
template <class T> class PartialSums {
 public:
  explicit PartialSums(int64_t count) {
    thread_local std::unique_ptr<T[]> cached;
    thread_local int64_t cached_count = 0;
    thread_local bool cached_in_use = false;
    if (count * int64_t(sizeof(T)) > kStreamingBytes || cached_in_use) {
      owned_.reset(new T[count]);
      data_ = owned_.get();
      return;
    }
    if (cached_count < count) {
      cached.reset(new T[count]);
      cached_count = count;
    }
    data_ = cached.get();
    cached_in_use = true;
    release_ = &cached_in_use;
  }
  ~PartialSums() {
    if (release_) *release_ = false;
  }
  PartialSums(const PartialSums&) = delete;
  PartialSums& operator=(const PartialSums&) = delete;
  T* data() const { return data_; }

 private:
  std::unique_ptr<T[]> owned_;
  T* data_ = nullptr;
  bool* release_ = nullptr;  // the thread's in-use flag, while this holds its cached scratch
};

template <class S>
void backward(const SpatialDenseSpec& spec, const S* dy, const S* x, const weight_t<S>* kernel, const weight_t<S>* bias,
              S* dx, S* dkernel, S* dbias, const BackwardLoops<compute_t<S>>& loops, const ParallelFor& parallel_for) {
  using T = compute_t<S>;
  const int64_t n_total = spec.shape.spatial_size(), batch = spec.shape.batch;
  const int64_t spatial_blocks = ceil_div(n_total, kSpatialBlock);
  const int64_t block_rows = ceil_div(batch, batch_blocks(batch, n_total, spatial_blocks));
  const int64_t row_blocks = batch == 0 ? 0 : ceil_div(batch, block_rows);
  const int64_t x_prefetch_size = prefetched_size<S>(batch * n_total);
  const int64_t dy_prefetch_size = spec.reduces() ? 0 : x_prefetch_size;  // a reduced dy is small
  const bool streaming = is_streamed<S>(batch * n_total);
  // dx in dy's buffer: dx goes through the chunk buffer, so that the span
  // loop's inputs and outputs never alias.
  const bool in_place = static_cast<const void*>(dy) == static_cast<const void*>(dx);

  // partial_kernel[j * n_total + n]: the sum over the j-th batch block;
  // partial_bias the same, row_blocks * n_total further on. Each unit zeroes
  // its own slices first, while they are about to be used.
  const PartialSums<T> partials(2 * row_blocks * n_total);
  T* const partial_kernel = partials.data();
  T* const partial_bias = partial_kernel + row_blocks * n_total;
  const Backward<S> step{spec, Params<T>(spec.params), dy, kernel, bias, loops};
  const int64_t unit_cost = block_rows * std::min(n_total, kSpatialBlock) * kBackwardCyclesPerElement;
  parallel_for(row_blocks * spatial_blocks, unit_cost, [&](int64_t begin, int64_t end) {
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t j = unit / spatial_blocks;
      const int64_t n0 = (unit % spatial_blocks) * kSpatialBlock;
      const int64_t n1 = std::min(n_total, n0 + kSpatialBlock);
      T* acc_kernel = partial_kernel + j * n_total;
      T* acc_bias = partial_bias + j * n_total;
      std::fill(acc_kernel + n0, acc_kernel + n1, T(0));
      std::fill(acc_bias + n0, acc_bias + n1, T(0));
      const int64_t b1 = std::min(batch, (j + 1) * block_rows);
      for (int64_t b = j * block_rows; b < b1; ++b) {
        // The unit walks the batch: the same range of the next row comes next.
        const int64_t next = (b + 1) * n_total;
        for (int64_t m0 = n0; m0 < n1; m0 += kStreamChunk) {
          const int64_t m1 = std::min(n1, m0 + kStreamChunk);
          prefetch(x, next + m0, next + m1, x_prefetch_size);
          prefetch(dy, next + m0, next + m1, dy_prefetch_size);
          alignas(64) T x_chunk[kStreamChunk], dy_chunk[kStreamChunk], dx_chunk[kStreamChunk];
          const int64_t at = b * n_total + m0;
          const T* xs = load_chunk(x + at, m1 - m0, x_chunk);
          const T* dys = spec.reduces() ? nullptr : load_chunk(dy + at, m1 - m0, dy_chunk);
          T* dxs = output_chunk(dx + at, streaming || in_place, dx_chunk);
          step.row(b, m0, m1, xs, dys, dxs, acc_kernel, acc_bias);
          write_out(dx + at, dxs, m1 - m0, streaming);
        }
      }
    }
    end_streaming();
  });

  // Combine the batch blocks in order, each sum 0 + block 0 + block 1 + ...;
  // an empty batch gives zeros. A chunk of n at a time, the blocks in the
  // outer loop: the adds run along n, in vectors (summing down the blocks one
  // n at a time was a serial chain of scalar adds, a third of the backward's
  // time for a batch of 64).
  parallel_for(spatial_blocks, kSpatialBlock * row_blocks, [&](int64_t begin, int64_t end) {
    const int64_t n_end = std::min(n_total, end * kSpatialBlock);
    for (int64_t n0 = begin * kSpatialBlock; n0 < n_end; n0 += kStreamChunk) {
      const int64_t length = std::min(kStreamChunk, n_end - n0);
      alignas(64) T sum_kernel[kStreamChunk] = {}, sum_bias[kStreamChunk] = {};
      for (int64_t j = 0; j < row_blocks; ++j) {
        const T* __restrict__ block_kernel = partial_kernel + j * n_total + n0;
        const T* __restrict__ block_bias = partial_bias + j * n_total + n0;
        for (int64_t i = 0; i < length; ++i) {
          sum_kernel[i] += block_kernel[i];
          sum_bias[i] += block_bias[i];
        }
      }
      for (int64_t i = 0; i < length; ++i) dkernel[n0 + i] = store<S>(sum_kernel[i]);
      if (spec.has_bias) {
        for (int64_t i = 0; i < length; ++i) dbias[n0 + i] = store<S>(sum_bias[i]);
      }
    }
  });
}

}  // namespace
}  // namespace cpu
SO_ISA_END

void SO_ISA_ENTRY(spatial_dense_backward_cpu)(const SpatialDenseSpec& spec, DType dtype, const void* dy, const void* x,
                                              const void* kernel, const void* bias, void* dx, void* dkernel,
                                              void* dbias, const ParallelFor& parallel_for) {
  dispatch_dtype(dtype, [&](auto storage) {
    using S = decltype(storage);
    using T = compute_t<S>;
    const cpu::BackwardLoops<T>& loops = cpu::loops_for<cpu::BackwardLoopsOf, T>(spec);
    const cpu::WeightOperands<S> weights(spec, kernel, bias);
    cpu::backward<S>(spec, static_cast<const S*>(dy), static_cast<const S*>(x), weights.kernel(), weights.bias(),
                     static_cast<S*>(dx), static_cast<S*>(dkernel), static_cast<S*>(dbias), loops, parallel_for);
  });
}

}  // namespace spatial_ops
