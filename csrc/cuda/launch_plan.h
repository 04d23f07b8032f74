// How the CUDA kernels cut one call into work. Everything here is a function
// of the shape and the dtype alone, never of the device or of the pointers'
// alignment, so every sum (dkernel, dbias, a split reduction) is taken in the
// same order, bit for bit, on any GPU and for any view of the same data.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/portability.h"
#include "core/spec.h"

namespace spatial_ops {
namespace cuda_plan {

// About the threads an H100 holds at once: enough work items to fill a
// large GPU, few enough that each item runs long loops.
constexpr int64_t kTargetThreads = int64_t(1) << 18;
// Partial sums are combined in passes of at most this many.
constexpr int64_t kCombineFanIn = 32;
// A reduced run is split across teams only while each lane keeps at least
// this many steps of it.
constexpr int64_t kMinLaneSteps = 8;
constexpr int kWarp = 32;

SO_HD int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t pow2_ceil(int64_t v) {
  int64_t p = 1;
  while (p < v) p *= 2;
  return p;
}
inline int64_t pow2_floor(int64_t v) {
  int64_t p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}

// Elements per 16-byte access; kernels always work in chunks of this many.
template <class S> constexpr int chunk_width() { return int(16 / sizeof(S)); }

// Elementwise forward and backward: work items are (row group, chunk of the
// spatial axis); group g takes batch rows g, g + groups, g + 2 * groups, ...
// so consecutive threads touch consecutive memory whatever the shape.
struct RowGroups {
  int64_t chunks = 0;  // ceil(spatial / chunk width)
  int64_t groups = 0;  // 0 when there is nothing to do
};

inline RowGroups row_groups(int64_t batch, int64_t spatial, int width) {
  RowGroups plan;
  plan.chunks = ceil_div(spatial, width);
  if (plan.chunks == 0 || batch == 0) return plan;
  plan.groups = std::min(batch, std::max<int64_t>(1, ceil_div(kTargetThreads, plan.chunks)));
  return plan;
}

// Scratch (in elements) to combine `groups` rows of `width` partial sums in
// passes of kCombineFanIn: the rows themselves plus the second pass's rows.
inline int64_t combine_scratch(int64_t groups, int64_t width) {
  if (groups <= 1) return 0;
  return (groups + (groups > kCombineFanIn ? ceil_div(groups, kCombineFanIn) : 0)) * width;
}

// Forward with a reduction. A team of `team` lanes (a power of two, at most
// a warp) sums one unit: one batch row and outer index, over one segment of
// the reduced axis, for one chunk of the inner axis. When the inner axis is 1
// the chunks run along the reduced axis instead ("along_reduced"), so
// accesses stay contiguous. Lane l takes steps l, l + team, ... of the
// segment; the team then adds its lanes in a fixed butterfly.
struct Reduction {
  bool along_reduced = false;
  int64_t inner_chunks = 0;  // chunks along the inner axis (1 when along_reduced)
  int64_t team = 1;
  int64_t segments = 1;       // > 1: partial sums, then combined
  int64_t segment_steps = 0;  // steps (chunks or rows of r) per segment
  int64_t steps = 0;          // steps of the whole reduced axis
};

inline Reduction reduction(const CanonicalShape& shape, int width) {
  Reduction plan;
  plan.along_reduced = shape.inner == 1;
  plan.inner_chunks = plan.along_reduced ? 1 : ceil_div(shape.inner, width);
  plan.steps = plan.along_reduced ? ceil_div(shape.reduced, width) : shape.reduced;
  // Along the inner axis a warp holds teams for up to 32 consecutive chunks.
  const int64_t lanes_free =
      plan.along_reduced ? kWarp : kWarp / pow2_floor(std::min<int64_t>(plan.inner_chunks, kWarp));
  plan.team = std::max<int64_t>(1, std::min(lanes_free, pow2_ceil(plan.steps)));
  const int64_t threads = shape.batch * shape.outer * plan.inner_chunks * plan.team;
  const int64_t max_segments = std::max<int64_t>(1, plan.steps / (plan.team * kMinLaneSteps));
  if (threads > 0 && threads < kTargetThreads) {
    plan.segments = std::min(ceil_div(kTargetThreads, threads), max_segments);
  }
  plan.segment_steps = plan.steps == 0 ? 0 : ceil_div(plan.steps, plan.segments);
  plan.segments = plan.steps == 0 ? 1 : ceil_div(plan.steps, plan.segment_steps);
  return plan;
}

}  // namespace cuda_plan
}  // namespace spatial_ops
