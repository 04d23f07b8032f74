// The per-instruction-set builds of the CPU kernels. cpu_forward.cc,
// cpu_backward.cc and cpu_float_math.cc are compiled once per entry of
// SPATIAL_OPS_CPU_ISAS with SPATIAL_OPS_ISA set to it; cpu_dispatch.cc picks one at run time.
#pragma once

#include "cpu.h"

#define SO_CONCAT_(a, b) a##_##b
#define SO_CONCAT(a, b) SO_CONCAT_(a, b)
// spatial_dense_forward_cpu -> spatial_dense_forward_cpu_isa_avx2, say.
#define SO_ISA_ENTRY(name) SO_CONCAT(name, SPATIAL_OPS_ISA)

// Built for x86-64: AVX (TensorFlow's own baseline), AVX2 + FMA, AVX-512;
// elsewhere the baseline alone (CMakeLists.txt defines which are built).
#define SPATIAL_OPS_CPU_ISAS(X) X(isa_baseline) X(isa_avx2) X(isa_avx512)

namespace spatial_ops {

#define SO_DECLARE_ISA(isa)                                                                     \
  void spatial_dense_forward_cpu_##isa(const SpatialDenseSpec& spec, DType dtype,              \
                                       const void* x, const void* kernel, const void* bias,    \
                                       void* y, const ParallelFor& parallel_for);              \
  void spatial_dense_backward_cpu_##isa(const SpatialDenseSpec& spec, DType dtype,             \
                                        const void* dy, const void* x, const void* kernel,     \
                                        const void* bias, void* dx, void* dkernel, void* dbias, \
                                        const ParallelFor& parallel_for);              \
  void float_math_cpu_##isa(FloatFunction function, const float* x, float* y, int64_t n);
SPATIAL_OPS_CPU_ISAS(SO_DECLARE_ISA)
#undef SO_DECLARE_ISA

}  // namespace spatial_ops
