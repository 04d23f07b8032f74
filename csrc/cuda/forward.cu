// CUDA forward: y = reduce(activation(x * kernel + bias)) on the canonical
// view [B, A, R, C]. One kernel template per shape of work, instantiated once
// per dtype and activation (dispatch_dtype x dispatch_activation below); the
// split of the work is launch_plan.h's, a function of the shape alone.
#include "cuda/spatial_dense_cuda.h"
#include "cuda/device_common.cuh"

namespace spatial_ops {
SO_ISA_BEGIN
namespace gpu {
namespace {

template <class S> struct ForwardArgs {
  const S* x;
  const S* kernel;
  const S* bias;  // null without bias: z = x * kernel + 0, as on the CPU
  S* y;
  compute_t<S>* partial;  // [segments, B * A * C] when a reduction is split
  CanonicalShape shape;
  bool vector;  // whole chunks, all pointers 16-byte aligned
};

template <class S>
__device__ __forceinline__ Chunk<S> load_bias(const S* bias, int64_t at, int count, bool vector) {
  return bias ? load_chunk<S, false>(bias + at, count, vector) : Chunk<S>{};
}

// No reduction: items are (row group, chunk of the spatial axis); each item
// loads its weights once and sweeps its rows.
template <class S, class Act>
__global__ void __launch_bounds__(kBlockThreads, kForwardMinBlocks)
    forward_elementwise(ForwardArgs<S> args, Walk<2> walk, Params<compute_t<S>> params) {
  constexpr int W = Chunk<S>::kWidth;
  const S* __restrict__ x = args.x;
  S* __restrict__ y = args.y;
  const int64_t n_total = args.shape.spatial_size(), batch = args.shape.batch;
  const int64_t groups = walk.extent[0];
#pragma unroll 1
  for (IndexWalker<2> at(walk, global_thread()); at.valid(walk); at.advance(walk)) {
    const int64_t n = at.index[1] * W;
    const int count = int(n_total - n < W ? n_total - n : W);
    const Chunk<S> w = load_chunk<S, false>(args.kernel + n, count, args.vector);
    const Chunk<S> b = load_bias(args.bias, n, count, args.vector);
#pragma unroll(kLoadsInFlight<S>)
    for (int64_t row = at.index[0]; row < batch; row += groups) {
      const int64_t offset = row * n_total + n;
      const Chunk<S> xs = load_chunk<S, true>(x + offset, count, args.vector);
      Chunk<S> ys;
#pragma unroll
      for (int i = 0; i < W; ++i) {
        ys.v[i] = store<S>(Act::value(math::affine(load(xs.v[i]), load(w.v[i]), load(b.v[i])), params));
      }
      store_chunk(y + offset, ys, count, args.vector);
    }
  }
}

// The result of one output position: the sum over r, or its mean, in y; or
// the segment's partial sum when the reduced axis is split.
template <class S>
__device__ __forceinline__ void finish(const ForwardArgs<S>& args, int64_t segment, int64_t out, compute_t<S> sum,
                                       compute_t<S> divisor) {
  if (args.partial) {
    args.partial[segment * args.shape.batch * args.shape.outer * args.shape.inner + out] = sum;
  } else {
    args.y[out] = store<S>(sum / divisor);
  }
}

// Reduction over r with inner size 1: x[b, a, :] is a contiguous run. Units
// are (segment, outer index, batch row), the row fastest, so the teams of a
// block share each chunk of weights through L1. Lanes take chunks along r and
// the team adds its lanes; every lane runs every iteration, so all of the
// team reach the team sum.
template <class S, class Act>
__global__ void __launch_bounds__(kBlockThreads, kForwardMinBlocks)
    forward_along_reduced(ForwardArgs<S> args, cuda_plan::Reduction plan, Walk<3> walk, compute_t<S> divisor,
                          Params<compute_t<S>> params) {
  using T = compute_t<S>;
  constexpr int W = Chunk<S>::kWidth;
  const S* __restrict__ x = args.x;
  const CanonicalShape& shape = args.shape;
  const Team team(int(plan.team));
#pragma unroll 1
  for (IndexWalker<3> at(walk, global_thread() / team.size); at.valid(walk); at.advance(walk)) {
    const int64_t segment = at.index[0], a = at.index[1], row = at.index[2];
    const int64_t r_begin = segment * plan.segment_steps * W;
    const int64_t r_stop = (segment + 1) * plan.segment_steps * W;
    const int64_t r_end = r_stop < shape.reduced ? r_stop : shape.reduced;
    const S* x_run = x + (row * shape.outer + a) * shape.reduced;
    T sum = T(0);
#pragma unroll(kLoadsInFlight<S>)
    for (int64_t r = r_begin + int64_t(team.lane) * W; r < r_end; r += team.size * W) {
      const int count = int(r_end - r < W ? r_end - r : W);
      const int64_t weight_at = a * shape.reduced + r;
      const Chunk<S> w = load_chunk<S, false>(args.kernel + weight_at, count, args.vector);
      const Chunk<S> b = load_bias(args.bias, weight_at, count, args.vector);
      const Chunk<S> xs = load_chunk<S, true>(x_run + r, count, args.vector);
#pragma unroll
      for (int i = 0; i < W; ++i) {
        if (i < count) sum += Act::value(math::affine(load(xs.v[i]), load(w.v[i]), load(b.v[i])), params);
      }
    }
    sum = team.sum(sum);
    if (team.lane == 0) finish(args, segment, row * shape.outer + a, sum, divisor);
  }
}

// Reduction over r with inner size > 1: units are (segment, outer index,
// batch row, chunk of c), the chunk fastest; lanes take rows r of the
// segment in turn, each loading a chunk of c contiguous with its neighbours'.
template <class S, class Act>
__global__ void __launch_bounds__(kBlockThreads, kForwardMinBlocks)
    forward_along_inner(ForwardArgs<S> args, cuda_plan::Reduction plan, Walk<4> walk, compute_t<S> divisor,
                        Params<compute_t<S>> params) {
  using T = compute_t<S>;
  constexpr int W = Chunk<S>::kWidth;
  const S* __restrict__ x = args.x;
  const CanonicalShape& shape = args.shape;
  const Team team(int(plan.team));
#pragma unroll 1
  for (IndexWalker<4> at(walk, global_thread() / team.size); at.valid(walk); at.advance(walk)) {
    const int64_t segment = at.index[0], a = at.index[1], row = at.index[2];
    const int64_t c = at.index[3] * W;
    const int count = int(shape.inner - c < W ? shape.inner - c : W);
    const int64_t r_begin = segment * plan.segment_steps;
    const int64_t r_stop = r_begin + plan.segment_steps;
    const int64_t r_end = r_stop < shape.reduced ? r_stop : shape.reduced;
    const S* x_block = x + (row * shape.outer + a) * shape.reduced * shape.inner + c;
    T sums[W] = {};
#pragma unroll(kLoadsInFlight<S>)
    for (int64_t r = r_begin + team.lane; r < r_end; r += team.size) {
      const int64_t weight_at = (a * shape.reduced + r) * shape.inner + c;
      const Chunk<S> w = load_chunk<S, false>(args.kernel + weight_at, count, args.vector);
      const Chunk<S> b = load_bias(args.bias, weight_at, count, args.vector);
      const Chunk<S> xs = load_chunk<S, true>(x_block + r * shape.inner, count, args.vector);
#pragma unroll
      for (int i = 0; i < W; ++i) {
        sums[i] += Act::value(math::affine(load(xs.v[i]), load(w.v[i]), load(b.v[i])), params);
      }
    }
    const int64_t out = (row * shape.outer + a) * shape.inner + c;
#pragma unroll
    for (int i = 0; i < W; ++i) {
      const T sum = team.sum(sums[i]);
      if (team.lane == 0 && i < count) finish(args, segment, out + i, sum, divisor);
    }
  }
}

template <class S, class Act>
std::string forward(const SpatialDenseSpec& spec, ForwardArgs<S> args, cudaStream_t stream) {
  using T = compute_t<S>;
  constexpr int W = Chunk<S>::kWidth;
  const CanonicalShape& shape = spec.shape;
  if (spec.output_size() == 0) return "";
  const Params<T> params(spec.params);
  const bool aligned =
      aligned16(args.x) && aligned16(args.kernel) && aligned16(args.y) && (!args.bias || aligned16(args.bias));
  if (!spec.reduces()) {
    const cuda_plan::RowGroups plan = cuda_plan::row_groups(shape.batch, shape.spatial_size(), W);
    args.vector = aligned && shape.spatial_size() % W == 0;
    const Grid<2> grid = make_grid<2>({plan.groups, plan.chunks});
    forward_elementwise<S, Act><<<grid.blocks, kBlockThreads, 0, stream>>>(args, grid.walk, params);
    return launch_error();
  }
  const cuda_plan::Reduction plan = cuda_plan::reduction(shape, W);
  const T divisor = spec.reduction == Reduction::kMean ? T(shape.reduced) : T(1);
  if (plan.segments == 1) args.partial = nullptr;  // sums go straight to y
  if (plan.along_reduced) {
    args.vector = aligned && shape.reduced % W == 0;
    const Grid<3> grid = make_grid<3>({plan.segments, shape.outer, shape.batch}, plan.team);
    forward_along_reduced<S, Act><<<grid.blocks, kBlockThreads, 0, stream>>>(args, plan, grid.walk, divisor, params);
  } else {
    args.vector = aligned && shape.inner % W == 0;
    const Grid<4> grid = make_grid<4>({plan.segments, shape.outer, shape.batch, plan.inner_chunks}, plan.team);
    forward_along_inner<S, Act><<<grid.blocks, kBlockThreads, 0, stream>>>(args, plan, grid.walk, divisor, params);
  }
  if (args.partial) {
    const int64_t outputs = spec.output_size();
    combine_partials<S>(args.partial, args.partial + plan.segments * outputs, plan.segments, outputs, divisor, args.y,
                        stream);
  }
  return launch_error();
}

}  // namespace
}  // namespace gpu
SO_ISA_END

size_t spatial_dense_forward_cuda_workspace(const SpatialDenseSpec& spec, DType dtype) {
  if (!spec.reduces() || spec.output_size() == 0) return 0;
  return dispatch_dtype(dtype, [&](auto storage) -> size_t {
    using S = decltype(storage);
    const cuda_plan::Reduction plan = cuda_plan::reduction(spec.shape, cuda_plan::chunk_width<S>());
    if (plan.segments <= 1) return 0;
    return size_t(cuda_plan::combine_scratch(plan.segments, spec.output_size())) * sizeof(compute_t<S>);
  });
}

std::string spatial_dense_forward_cuda(const SpatialDenseSpec& spec, DType dtype, const void* x, const void* kernel,
                                       const void* bias, void* y, void* workspace, void* stream) {
  return dispatch_dtype(dtype, [&](auto storage) {
    using S = decltype(storage);
    const gpu::ForwardArgs<S> args{static_cast<const S*>(x),
                                   static_cast<const S*>(kernel),
                                   spec.has_bias ? static_cast<const S*>(bias) : nullptr,
                                   static_cast<S*>(y),
                                   static_cast<compute_t<S>*>(workspace),
                                   spec.shape,
                                   false};
    return dispatch_activation<compute_t<S>>(spec, [&](auto activation) {
      return gpu::forward<S, decltype(activation)>(spec, args, static_cast<cudaStream_t>(stream));
    });
  });
}

}  // namespace spatial_ops
