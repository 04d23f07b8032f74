// Picks the CPU kernels' build for the widest instruction set this CPU has.
// SPATIAL_OPS_CPU_ISA=baseline|avx2 forces a narrower one (the tests compare
// the builds); a build wider than the CPU supports is never run.
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "cpu_isa.h"

namespace spatial_ops {
namespace {

enum class Isa { kBaseline, kAvx2, kAvx512 };

Isa widest_supported() {
#if defined(SPATIAL_OPS_HAVE_X86_ISAS)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("fma")) {
    return Isa::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::kAvx2;
#endif
  return Isa::kBaseline;
}

// SPATIAL_OPS_CPU_ISA may narrow the choice; an unknown or too wide value
// leaves the widest the CPU supports.
Isa choose() {
  const Isa widest = widest_supported();
  const char* forced = std::getenv("SPATIAL_OPS_CPU_ISA");
  if (forced == nullptr) return widest;
  Isa wanted = widest;
  if (std::strcmp(forced, "baseline") == 0) wanted = Isa::kBaseline;
  if (std::strcmp(forced, "avx2") == 0) wanted = Isa::kAvx2;
  return wanted < widest ? wanted : widest;
}

Isa active() {
  static const Isa isa = choose();
  return isa;
}

const char* name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2: return "avx2";
    case Isa::kBaseline: break;
  }
  return "baseline";
}

template <class Fn> Fn pick(Isa isa, Fn baseline, Fn avx2, Fn avx512) {
  switch (isa) {
    case Isa::kAvx512: return avx512;
    case Isa::kAvx2: return avx2;
    case Isa::kBaseline: break;
  }
  return baseline;
}

}  // namespace

const char* active_cpu_isa() { return name(active()); }

std::vector<std::string> supported_cpu_isas() {
  std::vector<std::string> names;
  for (Isa isa = Isa::kBaseline; isa <= widest_supported(); isa = Isa(int(isa) + 1)) {
    names.push_back(name(isa));
  }
  return names;
}

void float_math_cpu(const std::string& isa_name, FloatFunction function, const float* x, float* y,
                    int64_t n) {
  for (Isa isa = Isa::kBaseline; isa <= widest_supported(); isa = Isa(int(isa) + 1)) {
    if (isa_name == name(isa)) {
      return pick(isa, float_math_cpu_isa_baseline, float_math_cpu_isa_avx2,
                  float_math_cpu_isa_avx512)(function, x, y, n);
    }
  }
  throw std::invalid_argument("CPU build '" + isa_name + "' is not one this CPU runs");
}

void run_serially(int64_t total, int64_t, const WorkFn& work) {
  if (total > 0) work(0, total);
}

void spatial_dense_forward_cpu(const SpatialDenseSpec& spec, DType dtype, const void* x,
                               const void* kernel, const void* bias, void* y,
                               const ParallelFor& parallel_for) {
  static const auto forward =
      pick(active(), spatial_dense_forward_cpu_isa_baseline, spatial_dense_forward_cpu_isa_avx2,
           spatial_dense_forward_cpu_isa_avx512);
  forward(spec, dtype, x, kernel, bias, y, parallel_for);
}

void spatial_dense_backward_cpu(const SpatialDenseSpec& spec, DType dtype, const void* dy,
                                const void* x, const void* kernel, const void* bias, void* dx,
                                void* dkernel, void* dbias, const ParallelFor& parallel_for) {
  static const auto backward =
      pick(active(), spatial_dense_backward_cpu_isa_baseline, spatial_dense_backward_cpu_isa_avx2,
           spatial_dense_backward_cpu_isa_avx512);
  backward(spec, dtype, dy, x, kernel, bias, dx, dkernel, dbias, parallel_for);
}

}  // namespace spatial_ops
