// CUDA backward of y = reduce(activation(x * kernel + bias)): one pass that
// recomputes z and writes dx = dz * kernel, with dz = dy / divisor * act'(z),
// while each work item sums dz * x and dz over its batch rows; the per-item
// partial sums are then combined in a fixed order (combine_partials). No
// atomics: dkernel and dbias are the same, bit for bit, on every run.
#include "cuda/spatial_dense_cuda.h"
#include "cuda/device_common.cuh"

namespace spatial_ops {
SO_ISA_BEGIN
namespace gpu {
namespace {

template <class S> struct BackwardArgs {
  const S* dy;
  const S* x;
  const S* kernel;
  const S* bias;  // null without bias (z = x * kernel + 0, as on the CPU)
  S* dx;
  S* dkernel;
  S* dbias;  // null without bias
  // [groups, N] per-group sums, or null when one group covers the batch.
  compute_t<S>* partial_kernel;
  compute_t<S>* partial_bias;
  CanonicalShape shape;
  bool reduces;
  bool vector;  // whole chunks, all pointers 16-byte aligned
};

// Where the dy of spatial element e sits in a row of dy: with a reduction
// dy[b, a, c] feeds every r, else dy has x's layout.
__device__ __forceinline__ int64_t dy_position(const CanonicalShape& shape, bool reduces, int64_t e) {
  return reduces ? e / (shape.reduced * shape.inner) * shape.inner + e % shape.inner : e;
}

// Work items are (row group, chunk of the spatial axis), as in the forward.
// Group g sums rows g, g + groups, ... in that order.
template <class S, class Act>
__global__ void __launch_bounds__(kBlockThreads, kBackwardMinBlocks)
    backward_kernel(BackwardArgs<S> args, Walk<2> walk, compute_t<S> divisor, Params<compute_t<S>> params) {
  using T = compute_t<S>;
  constexpr int W = Chunk<S>::kWidth;
  const S* __restrict__ x = args.x;
  const S* __restrict__ dy = args.dy;
  S* __restrict__ dx = args.dx;
  const CanonicalShape& shape = args.shape;
  const int64_t n_total = shape.spatial_size(), groups = walk.extent[0];
  const int64_t dy_row = args.reduces ? shape.outer * shape.inner : n_total;
#pragma unroll 1
  for (IndexWalker<2> at(walk, global_thread()); at.valid(walk); at.advance(walk)) {
    const int64_t group = at.index[0], n = at.index[1] * W;
    const int count = int(n_total - n < W ? n_total - n : W);
    const Chunk<S> w = load_chunk<S, false>(args.kernel + n, count, args.vector);
    const Chunk<S> b = args.bias ? load_chunk<S, false>(args.bias + n, count, args.vector) : Chunk<S>{};
    // The chunk's dy is one aligned chunk of a dy row, one value shared by
    // the whole chunk (a reduced run), or else gathered element by element.
    const int64_t dy_first = dy_position(shape, args.reduces, n);
    const int64_t dy_last = dy_position(shape, args.reduces, n + count - 1);
    const bool dy_chunk = args.vector && dy_last == dy_first + W - 1 && dy_first % W == 0 && dy_row % W == 0;
    // Equal ends mean one dy throughout only where the dy position never
    // falls back inside the chunk: inner 1 (it only rises with e), or a
    // single element. With inner C > 1 it falls back from c = C - 1 to c = 0,
    // so a chunk of W = C + 1 elements starts and ends on the same dy.
    const bool dy_shared = dy_last == dy_first && (shape.inner == 1 || count == 1);
    T sum_kernel[W] = {}, sum_bias[W] = {};
#pragma unroll 1  // unrolled, the derivatives of two rows exceed the register budget
    for (int64_t row = group; row < shape.batch; row += groups) {
      const int64_t offset = row * n_total + n;
      const Chunk<S> xs = load_chunk<S, true>(x + offset, count, args.vector);
      const S* dy_row_start = dy + row * dy_row;
      Chunk<S> dys;
      if (dy_chunk) {
        dys = load_chunk<S, true>(dy_row_start + dy_first, W, true);
      } else if (dy_shared) {
        const S shared = dy_row_start[dy_first];
#pragma unroll
        for (int i = 0; i < W; ++i) dys.v[i] = shared;
      } else {
#pragma unroll
        for (int i = 0; i < W; ++i) {
          dys.v[i] = i < count ? dy_row_start[dy_position(shape, args.reduces, n + i)] : S{};
        }
      }
      Chunk<S> dxs;
#pragma unroll
      for (int i = 0; i < W; ++i) {
        const T xv = load(xs.v[i]), wv = load(w.v[i]);
        const T dz = load(dys.v[i]) / divisor * Act::derivative(math::affine(xv, wv, load(b.v[i])), params);
        dxs.v[i] = store<S>(dz * wv);
        sum_kernel[i] += dz * xv;
        sum_bias[i] += dz;
      }
      store_chunk(dx + offset, dxs, count, args.vector);
    }
    if (args.partial_kernel) {
#pragma unroll
      for (int i = 0; i < W; ++i) {
        if (i >= count) break;
        args.partial_kernel[group * n_total + n + i] = sum_kernel[i];
        if (args.partial_bias) args.partial_bias[group * n_total + n + i] = sum_bias[i];
      }
    } else {
      Chunk<S> dkernel, dbias;
#pragma unroll
      for (int i = 0; i < W; ++i) {
        dkernel.v[i] = store<S>(sum_kernel[i]);
        dbias.v[i] = store<S>(sum_bias[i]);
      }
      store_chunk(args.dkernel + n, dkernel, count, args.vector);
      if (args.dbias) store_chunk(args.dbias + n, dbias, count, args.vector);
    }
  }
}

template <class S, class Act>
std::string backward(const SpatialDenseSpec& spec, BackwardArgs<S> args, cudaStream_t stream) {
  using T = compute_t<S>;
  constexpr int W = Chunk<S>::kWidth;
  const CanonicalShape& shape = spec.shape;
  const int64_t n_total = shape.spatial_size();
  if (n_total == 0) return "";
  if (shape.batch == 0) {  // sums over no rows
    cudaMemsetAsync(args.dkernel, 0, n_total * sizeof(S), stream);
    if (args.dbias) cudaMemsetAsync(args.dbias, 0, n_total * sizeof(S), stream);
    return launch_error();
  }
  const cuda_plan::RowGroups plan = cuda_plan::row_groups(shape.batch, n_total, W);
  const T divisor = spec.reduction == Reduction::kMean ? T(shape.reduced) : T(1);
  args.vector = n_total % W == 0 && aligned16(args.dy) && aligned16(args.x) && aligned16(args.kernel) &&
                aligned16(args.dx) && aligned16(args.dkernel) &&
                (!args.bias || (aligned16(args.bias) && aligned16(args.dbias)));
  const int64_t scratch = cuda_plan::combine_scratch(plan.groups, n_total);
  if (plan.groups == 1) {
    args.partial_kernel = args.partial_bias = nullptr;
  } else if (!args.dbias) {
    args.partial_bias = nullptr;
  } else {
    args.partial_bias = args.partial_kernel + scratch;
  }
  const Grid<2> grid = make_grid<2>({plan.groups, plan.chunks});
  backward_kernel<S, Act><<<grid.blocks, kBlockThreads, 0, stream>>>(args, grid.walk, divisor, Params<T>(spec.params));
  if (plan.groups > 1) {
    const int64_t spare = plan.groups * n_total;
    combine_partials<S>(args.partial_kernel, args.partial_kernel + spare, plan.groups, n_total, T(1), args.dkernel,
                        stream);
    if (args.dbias) {
      combine_partials<S>(args.partial_bias, args.partial_bias + spare, plan.groups, n_total, T(1), args.dbias, stream);
    }
  }
  return launch_error();
}

}  // namespace
}  // namespace gpu
SO_ISA_END

size_t spatial_dense_backward_cuda_workspace(const SpatialDenseSpec& spec, DType dtype) {
  return dispatch_dtype(dtype, [&](auto storage) -> size_t {
    using S = decltype(storage);
    const int64_t n_total = spec.shape.spatial_size();
    const cuda_plan::RowGroups plan = cuda_plan::row_groups(spec.shape.batch, n_total, cuda_plan::chunk_width<S>());
    const int64_t per_sum = cuda_plan::combine_scratch(plan.groups, n_total);
    return size_t(per_sum) * (spec.has_bias ? 2 : 1) * sizeof(compute_t<S>);
  });
}

std::string spatial_dense_backward_cuda(const SpatialDenseSpec& spec, DType dtype, const void* dy, const void* x,
                                        const void* kernel, const void* bias, void* dx, void* dkernel, void* dbias,
                                        void* workspace, void* stream) {
  return dispatch_dtype(dtype, [&](auto storage) {
    using S = decltype(storage);
    using T = compute_t<S>;
    const gpu::BackwardArgs<S> args{static_cast<const S*>(dy),
                                    static_cast<const S*>(x),
                                    static_cast<const S*>(kernel),
                                    spec.has_bias ? static_cast<const S*>(bias) : nullptr,
                                    static_cast<S*>(dx),
                                    static_cast<S*>(dkernel),
                                    spec.has_bias ? static_cast<S*>(dbias) : nullptr,
                                    static_cast<T*>(workspace),
                                    nullptr,
                                    spec.shape,
                                    spec.reduces(),
                                    false};
    return dispatch_activation<compute_t<S>>(spec, [&](auto activation) {
      return gpu::backward<S, decltype(activation)>(spec, args, static_cast<cudaStream_t>(stream));
    });
  });
}

}  // namespace spatial_ops
