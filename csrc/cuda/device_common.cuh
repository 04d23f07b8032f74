// Device-side pieces shared by the CUDA forward and backward kernels: chunks
// of 16 bytes moved as one access where alignment allows, an index walker
// for grid-stride loops without divisions, fixed-order team sums, the grid
// size for the device, and the fixed-order combination of partial sums.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "core/activations.h"
#include "cuda/launch_plan.h"
#include "core/spec.h"
#include "core/storage.h"

namespace spatial_ops {
SO_ISA_BEGIN
namespace gpu {

using cuda_plan::ceil_div;
using cuda_plan::chunk_width;

constexpr int kBlockThreads = 256;
// Memory-bound kernels hide latency with many loads in flight: the forward
// keeps at least 1024 threads resident per multiprocessor (at most 64
// registers each), the backward, which holds two sums per element, 768 (85).
constexpr int kForwardMinBlocks = 4;
constexpr int kBackwardMinBlocks = 3;
// Loop iterations (rows, or steps along r) a forward thread unrolls to keep
// several loads in flight: two for float; one for the half types, whose
// 8-element chunks alone fill the register budget, and for double, whose
// math does.
template <class S> constexpr int kLoadsInFlight = sizeof(S) == 4 ? 2 : 1;

// One chunk: 16 bytes of consecutive elements.
template <class S> struct alignas(16) Chunk {
  static constexpr int kWidth = chunk_width<S>();
  S v[kWidth];
};

// Loads `count` (<= width) elements; `vector` says the chunk is whole and
// 16-byte aligned, so one access moves it. Missing elements read as zero.
// Streaming data (read once) bypasses L1 and leaves L2 early (ld.cs);
// weights, read by every batch row, take the read-only path.
template <class S, bool kStreaming>
__device__ __forceinline__ Chunk<S> load_chunk(const S* p, int count, bool vector) {
  Chunk<S> chunk;
  if (vector) {
    const uint4* raw_pointer = reinterpret_cast<const uint4*>(p);
    const uint4 raw = kStreaming ? __ldcs(raw_pointer) : __ldg(raw_pointer);
    memcpy(&chunk, &raw, sizeof(raw));
  } else {
#pragma unroll
    for (int i = 0; i < Chunk<S>::kWidth; ++i) chunk.v[i] = i < count ? p[i] : S{};
  }
  return chunk;
}

template <class S>
__device__ __forceinline__ void store_chunk(S* p, const Chunk<S>& chunk, int count, bool vector) {
  if (vector) {
    uint4 raw;
    memcpy(&raw, &chunk, sizeof(raw));
    __stcs(reinterpret_cast<uint4*>(p), raw);
  } else {
#pragma unroll
    for (int i = 0; i < Chunk<S>::kWidth; ++i) {
      if (i < count) p[i] = chunk.v[i];
    }
  }
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// A grid-stride loop over a row-major index space of K digits (digit 0
// slowest): the extents and the grid's stride split into digits, the same
// for every thread, so built once on the host and read from kernel
// parameters rather than held in registers.
template <int K> struct Walk {
  int64_t extent[K], step[K];
};

// stride: work items the whole grid covers per step. Extents must be > 0.
template <int K> Walk<K> make_walk(const int64_t (&extents)[K], int64_t stride) {
  Walk<K> walk;
  for (int d = K - 1; d >= 0; --d) {
    walk.extent[d] = extents[d];
    walk.step[d] = d > 0 ? stride % extents[d] : stride;
    stride /= extents[d];
  }
  return walk;
}

// A thread's position in a Walk: the start is split into digits once, then
// each step adds digit by digit with carries, so the loop needs no 64-bit
// division per iteration. Digit 0 runs past its extent to end the loop.
template <int K> struct IndexWalker {
  int64_t index[K];

  __device__ IndexWalker(const Walk<K>& walk, int64_t start) {
    for (int d = K - 1; d > 0; --d) {
      index[d] = start % walk.extent[d];
      start /= walk.extent[d];
    }
    index[0] = start;
  }
  __device__ bool valid(const Walk<K>& walk) const { return index[0] < walk.extent[0]; }
  __device__ void advance(const Walk<K>& walk) {
    int64_t carry = 0;
#pragma unroll
    for (int d = K - 1; d > 0; --d) {
      index[d] += walk.step[d] + carry;
      carry = index[d] >= walk.extent[d];
      if (carry) index[d] -= walk.extent[d];
    }
    index[0] += walk.step[0] + carry;
  }
};

__device__ __forceinline__ int64_t global_thread() { return int64_t(blockIdx.x) * blockDim.x + threadIdx.x; }

// A team: `size` consecutive lanes of a warp (size a power of two <= 32).
struct Team {
  int size, lane;
  unsigned mask;
  __device__ explicit Team(int team_size) : size(team_size), lane(threadIdx.x % team_size) {
    const unsigned first = (threadIdx.x % 32) - lane;
    mask = team_size == 32 ? 0xffffffffu : ((1u << team_size) - 1u) << first;
  }
  // The sum of v over the team in a fixed butterfly order; lane 0's result
  // is the one used. Every lane of the team must call it.
  template <class T> __device__ T sum(T v) const {
    for (int offset = size / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(mask, v, offset, size);
    return v;
  }
};

// Blocks for `threads` threads: never more than the device runs at once
// (grid-stride loops take the rest). Reads the current device each launch.
inline unsigned grid_blocks(int64_t threads) {
  int device = 0, multiprocessors = 1, threads_per_multiprocessor = kBlockThreads;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, device);
  cudaDeviceGetAttribute(&threads_per_multiprocessor, cudaDevAttrMaxThreadsPerMultiProcessor, device);
  const int64_t resident = int64_t(multiprocessors) * std::max(1, threads_per_multiprocessor / kBlockThreads);
  return unsigned(std::max<int64_t>(1, std::min(ceil_div(threads, kBlockThreads), resident)));
}

// A grid for `items` work items of `team` threads each, and its walk.
template <int K> struct Grid {
  unsigned blocks;
  Walk<K> walk;
};
template <int K> Grid<K> make_grid(const int64_t (&extents)[K], int64_t team = 1) {
  int64_t items = 1;
  for (int64_t extent : extents) items *= extent;
  const unsigned blocks = grid_blocks(items * team);
  return {blocks, make_walk(extents, int64_t(blocks) * kBlockThreads / team)};
}

inline std::string launch_error() {
  const cudaError_t error = cudaGetLastError();
  return error == cudaSuccess ? "" : std::string("CUDA error: ") + cudaGetErrorString(error);
}

// Row j of the output is the sum of input rows [j * fan_in, (j + 1) * fan_in)
// taken in order. The last pass (kFinal) divides and stores in the dtype.
template <class S, bool kFinal>
__global__ void __launch_bounds__(kBlockThreads, kForwardMinBlocks)
    combine_kernel(const compute_t<S>* __restrict__ in, Walk<2> walk, int64_t groups, compute_t<S> divisor,
                   compute_t<S>* __restrict__ partial_out, S* __restrict__ final_out) {
  using T = compute_t<S>;
  const int64_t fan_in = cuda_plan::kCombineFanIn, width = walk.extent[1];
#pragma unroll 1
  for (IndexWalker<2> at(walk, global_thread()); at.valid(walk); at.advance(walk)) {
    const int64_t row = at.index[0], n = at.index[1];
    const int64_t end = (row + 1) * fan_in < groups ? (row + 1) * fan_in : groups;
    T sum = T(0);
    for (int64_t g = row * fan_in; g < end; ++g) sum += in[g * width + n];
    if (kFinal) {
      final_out[n] = store<S>(sum / divisor);
    } else {
      partial_out[row * width + n] = sum;
    }
  }
}

// Sums `groups` rows of `width` partial sums (in `partial`; `spare` holds
// the second pass's rows, see cuda_plan::combine_scratch) into out, divided
// by divisor. Both buffers are overwritten.
template <class S>
void combine_partials(compute_t<S>* partial, compute_t<S>* spare, int64_t groups, int64_t width, compute_t<S> divisor,
                      S* out, cudaStream_t stream) {
  const int64_t fan_in = cuda_plan::kCombineFanIn;
  while (groups > fan_in) {
    const int64_t rows = ceil_div(groups, fan_in);
    const Grid<2> grid = make_grid<2>({rows, width});
    combine_kernel<S, false>
        <<<grid.blocks, kBlockThreads, 0, stream>>>(partial, grid.walk, groups, divisor, spare, nullptr);
    std::swap(partial, spare);
    groups = rows;
  }
  const Grid<2> grid = make_grid<2>({1, width});
  combine_kernel<S, true><<<grid.blocks, kBlockThreads, 0, stream>>>(partial, grid.walk, groups, divisor, nullptr, out);
}

}  // namespace gpu
SO_ISA_END
}  // namespace spatial_ops
