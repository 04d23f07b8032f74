#include <type_traits>
#include <vector>

#include "cpu.h"
#include "cpu_isa.h"
#include "cpu_common.h"

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

// A span of elements of one batch row that read dy alike: dy[i] along the
// span, or one dy[0] for all of it (a reduced axis). dz = dy / divisor *
// act'(z); dx = dz * kernel; dkernel and dbias accumulate. Restrict-qualified
// pointers and no branches let the compiler vectorise it.
template <class S, class Act, bool kScalarDy>
void backward_span(int64_t length, const S* __restrict__ dy, compute_t<S> divisor,
                   const S* __restrict__ x, const weight_t<S>* __restrict__ kernel,
                   const weight_t<S>* __restrict__ bias, S* __restrict__ dx,
                   compute_t<S>* __restrict__ acc_kernel, compute_t<S>* __restrict__ acc_bias,
                   const Params<compute_t<S>> params) {  // by value: no aliasing
  using T = compute_t<S>;
  for (int64_t i = 0; i < length; ++i) {
    const T g = load(dy[kScalarDy ? 0 : i]) / divisor;
    const T xv = load(x[i]), wv = load(kernel[i]);
    const T dz = g * Act::derivative(math::affine(xv, wv, load(bias[i])), params);
    dx[i] = store<S>(dz * wv);
    acc_kernel[i] += dz * xv;
    acc_bias[i] += dz;
  }
}

template <class S, class Act>
struct Backward {
  using T = compute_t<S>;
  const SpatialDenseSpec& spec;
  const Params<T> params;
  const S *dy, *x;
  const weight_t<S> *kernel, *bias;
  S* dx;

  // Spatial range [n0, n1) of batch row b. With a reduction, dy[b, a, c]
  // (divided by R for a mean) is the incoming gradient of every r: walk the
  // range in spans that share a row of dy so no loop holds a division by C.
  void row(int64_t b, int64_t n0, int64_t n1, T* acc_kernel, T* acc_bias) const {
    const auto& shape = spec.shape;
    const int64_t offset = b * shape.spatial_size();
    const auto span = [&](auto scalar_dy, int64_t n, int64_t length, const S* dy_span, T divisor) {
      backward_span<S, Act, decltype(scalar_dy)::value>(
          length, dy_span, divisor, x + offset + n, kernel + n, bias + n, dx + offset + n,
          acc_kernel + n, acc_bias + n, params);
    };
    if (!spec.reduces()) {
      span(std::false_type{}, n0, n1 - n0, dy + offset + n0, T(1));
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
        span(std::true_type{}, n, length, dy_row + a, divisor);
        n += length;
        r = 0;
        ++a;
      } else {  // dy values contiguous along c
        const int64_t length = std::min(shape.inner - c, n1 - n);
        span(std::false_type{}, n, length, dy_row + a * shape.inner + c, divisor);
        n += length;
        c = 0;
        if (++r == shape.reduced) { r = 0; ++a; }
      }
    }
  }
};

template <class S, class Act>
void backward(const SpatialDenseSpec& spec, const S* dy, const S* x, const weight_t<S>* kernel,
              const weight_t<S>* bias, S* dx, S* dkernel, S* dbias, const ParallelFor& parallel_for) {
  using T = compute_t<S>;
  const int64_t n_total = spec.shape.spatial_size(), batch = spec.shape.batch;
  const int64_t spatial_blocks = ceil_div(n_total, kSpatialBlock);
  const int64_t block_rows = ceil_div(batch, batch_blocks(batch, n_total, spatial_blocks));
  const int64_t row_blocks = batch == 0 ? 0 : ceil_div(batch, block_rows);

  // partial[j * n_total + n]: the sum over the j-th batch block.
  std::vector<T> partial_kernel(row_blocks * n_total);
  std::vector<T> partial_bias(row_blocks * n_total);
  const Backward<S, Act> step{spec, Params<T>(spec.params), dy, x, kernel, bias, dx};
  const int64_t unit_cost = block_rows * std::min(n_total, kSpatialBlock) * kBackwardCyclesPerElement;
  parallel_for(row_blocks * spatial_blocks, unit_cost, [&](int64_t begin, int64_t end) {
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t j = unit / spatial_blocks;
      const int64_t n0 = (unit % spatial_blocks) * kSpatialBlock;
      const int64_t n1 = std::min(n_total, n0 + kSpatialBlock);
      T* acc_kernel = partial_kernel.data() + j * n_total;
      T* acc_bias = partial_bias.data() + j * n_total;
      const int64_t b1 = std::min(batch, (j + 1) * block_rows);
      for (int64_t b = j * block_rows; b < b1; ++b) step.row(b, n0, n1, acc_kernel, acc_bias);
    }
  });

  // Combine the batch blocks in order; an empty batch gives zeros.
  parallel_for(spatial_blocks, kSpatialBlock * row_blocks, [&](int64_t begin, int64_t end) {
    const int64_t n1 = std::min(n_total, end * kSpatialBlock);
    for (int64_t n = begin * kSpatialBlock; n < n1; ++n) {
      T sum_kernel = 0, sum_bias = 0;
      for (int64_t j = 0; j < row_blocks; ++j) {
        sum_kernel += partial_kernel[j * n_total + n];
        sum_bias += partial_bias[j * n_total + n];
      }
      dkernel[n] = store<S>(sum_kernel);
      if (spec.has_bias) dbias[n] = store<S>(sum_bias);
    }
  });
}

}  // namespace
}  // namespace cpu
SO_ISA_END

void SO_ISA_ENTRY(spatial_dense_backward_cpu)(const SpatialDenseSpec& spec, DType dtype, const void* dy,
                                const void* x, const void* kernel, const void* bias, void* dx,
                                void* dkernel, void* dbias, const ParallelFor& parallel_for) {
  dispatch_dtype(dtype, [&](auto storage) {
    using S = decltype(storage);
    dispatch_activation<compute_t<S>>(spec, [&](auto activation) {
      const cpu::WeightOperands<S> weights(spec, kernel, bias);
      cpu::backward<S, decltype(activation)>(
          spec, static_cast<const S*>(dy), static_cast<const S*>(x), weights.kernel(),
          weights.bias(), static_cast<S*>(dx), static_cast<S*>(dkernel), static_cast<S*>(dbias),
          parallel_for);
    });
  });
}

}  // namespace spatial_ops
