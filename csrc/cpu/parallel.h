// Parallel loops for bindings that bring their own threads: how a loop is cut
// into pieces, and a runner that shares the pieces between the calling thread
// and helpers it schedules (a framework's pool, or threads of its own).
#pragma once

#include <cstdint>
#include <functional>

#include "cpu/spatial_dense_cpu.h"

namespace spatial_ops {

// Pieces for `total` units of `cost_per_unit` cycles on `threads` threads:
// none under about 100k cycles (a small job stays on the caller), at most
// four per thread (a busy thread does not hold the rest back).
int64_t parallel_pieces(int64_t total, int64_t cost_per_unit, int64_t threads);

// Runs work over [0, total) in parallel_pieces(...) pieces, taken from a
// shared counter by the calling thread and by up to threads - 1 helpers
// started with schedule(task). Returns when every piece has run; a helper
// that starts after that finds no work, so schedule may run tasks late (a
// busy pool) or never start them at all.
void run_in_pieces(int64_t total, int64_t cost_per_unit, int64_t threads, const WorkFn& work,
                   const std::function<void(std::function<void()>)>& schedule);

// A ParallelFor on `threads` threads: the caller and up to threads - 1
// helpers from one pool of the process, whose threads are started as calls
// first need them and then wait for work (never one started per call). A
// forked child starts a pool of its own.
ParallelFor parallel_for_on_shared_pool(int64_t threads);

}  // namespace spatial_ops
