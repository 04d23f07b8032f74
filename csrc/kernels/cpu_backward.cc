#include <vector>

#include "cpu.h"
#include "cpu_common.h"

namespace spatial_ops {
namespace cpu {
namespace {

// How many blocks the batch is cut into for dkernel/dbias partial sums. A
// function of the shape alone: the summation order, hence every bit of the
// result, never depends on the number of threads.
int64_t batch_blocks(int64_t batch, int64_t n_total, int64_t spatial_blocks) {
  constexpr int64_t kTargetUnits = 64;
  constexpr int64_t kMinUnitElements = 16384;
  const int64_t wanted = ceil_div(kTargetUnits, spatial_blocks);
  const int64_t affordable = batch * std::min(n_total, kSpatialBlock) / kMinUnitElements;
  return std::max<int64_t>(1, std::min({wanted, affordable, batch}));
}

template <class S, class Act>
struct Backward {
  using T = compute_t<S>;
  const SpatialDenseSpec& spec;
  const Params<T> params;
  const S *dy, *x, *kernel, *bias;  // bias null without bias
  S* dx;

  // One element: dz = g * act'(z); dx = dz * kernel; accumulate dkernel, dbias.
  void element(int64_t b_offset, int64_t n, T g, T* acc_kernel, T* acc_bias) const {
    const T xv = load(x[b_offset + n]), wv = load(kernel[n]);
    const T z = bias ? math::affine(xv, wv, load(bias[n])) : xv * wv;
    const T dz = g * Act::derivative(z, params);
    dx[b_offset + n] = store<S>(dz * wv);
    acc_kernel[n] += dz * xv;
    if (bias) acc_bias[n] += dz;
  }

  // Spatial range [n0, n1) of batch row b. With a reduction, dy[b, a, c]
  // (divided by R for a mean) is the incoming gradient of every r: walk the
  // range in runs that share a row of dy so the loop holds no division.
  void row(int64_t b, int64_t n0, int64_t n1, T* acc_kernel, T* acc_bias) const {
    const auto& shape = spec.shape;
    const int64_t b_offset = b * shape.spatial_size();
    if (!spec.reduces()) {
      for (int64_t n = n0; n < n1; ++n) element(b_offset, n, load(dy[b_offset + n]), acc_kernel, acc_bias);
      return;
    }
    const T divisor = spec.reduction == Reduction::kMean ? T(shape.reduced) : T(1);
    const S* dy_row = dy + b * shape.outer * shape.inner;
    int64_t c = n0 % shape.inner;
    int64_t r = (n0 / shape.inner) % shape.reduced;
    int64_t a = n0 / shape.inner / shape.reduced;
    for (int64_t n = n0; n < n1;) {
      if (shape.inner == 1) {  // one dy value for a run along r
        const int64_t run = std::min(shape.reduced - r, n1 - n);
        const T g = load(dy_row[a]) / divisor;
        for (int64_t i = 0; i < run; ++i) element(b_offset, n + i, g, acc_kernel, acc_bias);
        n += run;
        r = 0;
        ++a;
      } else {  // dy values contiguous along c
        const int64_t run = std::min(shape.inner - c, n1 - n);
        const S* g = dy_row + a * shape.inner + c;
        for (int64_t i = 0; i < run; ++i) element(b_offset, n + i, load(g[i]) / divisor, acc_kernel, acc_bias);
        n += run;
        c = 0;
        if (++r == shape.reduced) { r = 0; ++a; }
      }
    }
  }
};

template <class S, class Act>
void backward(const SpatialDenseSpec& spec, const S* dy, const S* x, const S* kernel,
              const S* bias, S* dx, S* dkernel, S* dbias, const ParallelFor& parallel_for) {
  using T = compute_t<S>;
  const int64_t n_total = spec.shape.spatial_size(), batch = spec.shape.batch;
  const int64_t spatial_blocks = ceil_div(n_total, kSpatialBlock);
  const int64_t block_rows = ceil_div(batch, batch_blocks(batch, n_total, spatial_blocks));
  const int64_t row_blocks = batch == 0 ? 0 : ceil_div(batch, block_rows);

  // partial[j * n_total + n]: the sum over the j-th batch block.
  std::vector<T> partial_kernel(row_blocks * n_total);
  std::vector<T> partial_bias(bias ? row_blocks * n_total : 0);
  const Backward<S, Act> step{spec, Params<T>(spec.params), dy, x, kernel, bias, dx};
  const int64_t unit_cost = block_rows * std::min(n_total, kSpatialBlock) * kBackwardCyclesPerElement;
  parallel_for(row_blocks * spatial_blocks, unit_cost, [&](int64_t begin, int64_t end) {
    for (int64_t unit = begin; unit < end; ++unit) {
      const int64_t j = unit / spatial_blocks;
      const int64_t n0 = (unit % spatial_blocks) * kSpatialBlock;
      const int64_t n1 = std::min(n_total, n0 + kSpatialBlock);
      T* acc_kernel = partial_kernel.data() + j * n_total;
      T* acc_bias = bias ? partial_bias.data() + j * n_total : nullptr;
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
        if (bias) sum_bias += partial_bias[j * n_total + n];
      }
      dkernel[n] = store<S>(sum_kernel);
      if (bias) dbias[n] = store<S>(sum_bias);
    }
  });
}

}  // namespace
}  // namespace cpu

void spatial_dense_backward_cpu(const SpatialDenseSpec& spec, DType dtype, const void* dy,
                                const void* x, const void* kernel, const void* bias, void* dx,
                                void* dkernel, void* dbias, const ParallelFor& parallel_for) {
  dispatch_dtype(dtype, [&](auto storage) {
    using S = decltype(storage);
    dispatch_activation(spec.activation, spec.derivative_order, [&](auto activation) {
      cpu::backward<S, decltype(activation)>(
          spec, static_cast<const S*>(dy), static_cast<const S*>(x),
          static_cast<const S*>(kernel), spec.has_bias ? static_cast<const S*>(bias) : nullptr,
          static_cast<S*>(dx), static_cast<S*>(dkernel), static_cast<S*>(dbias), parallel_for);
    });
  });
}

}  // namespace spatial_ops
