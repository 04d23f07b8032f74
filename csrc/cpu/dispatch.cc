// Picks the CPU kernels' build for the widest instruction set this CPU has.
// SPATIAL_OPS_CPU_ISA=<name> forces a narrower one (the tests compare the
// builds); a build wider than the CPU supports is never run.
#include <cstdlib>
#include <stdexcept>

#include "cpu/huge_pages.h"
#include "cpu/isa.h"

namespace spatial_ops {
namespace {

struct CpuBuild {
  const char* name;
  bool (*supported)();
  ForwardCpuFn* forward;
  BackwardCpuFn* backward;
  FloatMathCpuFn* float_math;
};

// Narrowest first, as CMakeLists.txt lists them.
const CpuBuild kBuilds[] = {
#define SO_BUILD(isa, runs_here)                                                                                    \
  {#isa, [] { return bool(runs_here); }, spatial_dense_forward_cpu_isa_##isa, spatial_dense_backward_cpu_isa_##isa, \
   float_math_cpu_isa_##isa},
    SPATIAL_OPS_CPU_ISAS(SO_BUILD)
#undef SO_BUILD
};
constexpr int kNumBuilds = sizeof(kBuilds) / sizeof(kBuilds[0]);

int widest_supported() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
#endif
  int widest = 0;
  for (int i = 1; i < kNumBuilds; ++i) {
    if (kBuilds[i].supported()) widest = i;
  }
  return widest;
}

int widest() {
  static const int index = widest_supported();
  return index;
}

// SPATIAL_OPS_CPU_ISA may narrow the choice; an unknown or too wide name
// leaves the widest the CPU supports.
int choose() {
  const char* forced = std::getenv("SPATIAL_OPS_CPU_ISA");
  for (int i = 0; forced != nullptr && i <= widest(); ++i) {
    if (std::string(forced) == kBuilds[i].name) return i;
  }
  return widest();
}

const CpuBuild& active() {
  static const CpuBuild& build = kBuilds[choose()];
  return build;
}

}  // namespace

const char* active_cpu_isa() { return active().name; }

std::vector<std::string> supported_cpu_isas() {
  std::vector<std::string> names;
  for (int i = 0; i <= widest(); ++i) names.push_back(kBuilds[i].name);
  return names;
}

void float_math_cpu(const std::string& isa_name, FloatFunction function, const float* x, float* y, int64_t n) {
  for (int i = 0; i <= widest(); ++i) {
    if (isa_name == kBuilds[i].name) return kBuilds[i].float_math(function, x, y, n);
  }
  throw std::invalid_argument("CPU build '" + isa_name + "' is not one this CPU runs");
}

void run_serially(int64_t total, int64_t, const WorkFn& work) {
  if (total > 0) work(0, total);
}

void spatial_dense_forward_cpu(const SpatialDenseSpec& spec, DType dtype, const void* x, const void* kernel,
                               const void* bias, void* y, const ParallelFor& parallel_for) {
  if (y != x) advise_huge_pages(y, spec.output_size() * size_of(dtype));
  active().forward(spec, dtype, x, kernel, bias, y, parallel_for);
}

void spatial_dense_backward_cpu(const SpatialDenseSpec& spec, DType dtype, const void* dy, const void* x,
                                const void* kernel, const void* bias, void* dx, void* dkernel, void* dbias,
                                const ParallelFor& parallel_for) {
  if (dx != dy) advise_huge_pages(dx, spec.shape.batch * spec.shape.spatial_size() * size_of(dtype));
  active().backward(spec, dtype, dy, x, kernel, bias, dx, dkernel, dbias, parallel_for);
}

}  // namespace spatial_ops
