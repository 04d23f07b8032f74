// CPU forward and backward of y = reduce(activation(x * kernel + bias)) on the
// canonical view (spec.h). Pointers are untyped so bindings need no templates;
// the dtype picks the instantiation. Callers validate shapes with spec.h first.
// Each call runs the build for the widest instruction set the CPU has
// (cpu/dispatch.cc). The AVX2 and AVX-512 builds give bitwise the same
// results; the AVX baseline, which has no FMA, may differ from them by float
// rounding in the activations' math (float_math.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/spec.h"
#include "core/dtypes.h"

namespace spatial_ops {

// Runs work(begin, end) over [0, total) units, possibly on several threads.
// cost_per_unit (about CPU cycles) lets a pool keep small jobs on the caller.
using WorkFn = std::function<void(int64_t begin, int64_t end)>;
using ParallelFor = std::function<void(int64_t total, int64_t cost_per_unit, const WorkFn& work)>;

// Runs everything on the calling thread.
void run_serially(int64_t total, int64_t cost_per_unit, const WorkFn& work);

// The name of the build the calls below run ("baseline", "avx2", ...: the
// builds CMakeLists.txt lists for this architecture).
const char* active_cpu_isa();

// The builds this CPU can run, narrowest first.
std::vector<std::string> supported_cpu_isas();

// y[i] = f(x[i]) for a function of float_math.h as the named build computes it.
// Throws std::invalid_argument for a build this CPU cannot run.
enum class FloatFunction { kExp, kExpNonpositive, kExpm1, kExpm1Nonpositive, kLog1pUnit, kTanh, kErfc };
void float_math_cpu(const std::string& isa, FloatFunction function, const float* x, float* y, int64_t n);

// y: spec.output_dims(). bias is ignored when !spec.has_bias. Without a
// reduction y may be x itself (each x is read before its y is written).
void spatial_dense_forward_cpu(const SpatialDenseSpec& spec, DType dtype, const void* x, const void* kernel,
                               const void* bias, void* y, const ParallelFor& parallel_for);

// dy: spec.output_dims(); dx like x; dkernel and dbias like kernel (dbias is
// untouched when !spec.has_bias). Recomputes z; sums over the batch in an
// order fixed by the shape alone, so results are bitwise reproducible
// whatever the thread count. Without a reduction dx may be dy itself (each
// dy is read before its dx is written).
void spatial_dense_backward_cpu(const SpatialDenseSpec& spec, DType dtype, const void* dy, const void* x,
                                const void* kernel, const void* bias, void* dx, void* dkernel, void* dbias,
                                const ParallelFor& parallel_for);

}  // namespace spatial_ops
