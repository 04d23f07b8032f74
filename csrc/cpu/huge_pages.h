// The transparent-huge-page hint for outputs the kernels write in full.
// A fresh output from an allocator that maps its memory anew per call
// (glibc's malloc for large blocks: TensorFlow's default CPU allocator when
// oneDNN is off) is first touched 4 KB page by page, one minor fault each:
// at 1024x256x256 float32 that cost 5x the kernel (benchmarks/first_touch.py).
// With MADV_HUGEPAGE on the range before the first write, Linux's default
// THP mode ("madvise") backs it with 2 MB pages: 512 times fewer faults.
#pragma once

#include <cstdint>

namespace spatial_ops {

// Outputs below this size keep 4 KB pages: they hold at most a couple of
// whole 2 MB pages, and the syscall would cost more than the faults it saves.
constexpr int64_t kHugePageHintBytes = int64_t(8) << 20;

// Asks the OS to back the 2 MB-aligned part of [data, data + bytes) with
// huge pages where it has them (Linux); a no-op below kHugePageHintBytes and
// elsewhere. Only a hint: a refusal (memory not anonymous, THP off) changes
// nothing, and the contents of the range are never touched.
void advise_huge_pages(void* data, int64_t bytes);

}  // namespace spatial_ops
