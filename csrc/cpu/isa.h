// The per-instruction-set builds of the CPU kernels. forward.cc, backward.cc
// and float_math.cc are compiled once per build that CMakeLists.txt lists,
// with SPATIAL_OPS_ISA set to isa_<name>; dispatch.cc picks one at run time.
#pragma once

#include "cpu/isa_list.h"  // generated: SPATIAL_OPS_CPU_ISAS(X), X(name, supported)
#include "cpu/spatial_dense_cpu.h"

#define SO_CONCAT_(a, b) a##_##b
#define SO_CONCAT(a, b) SO_CONCAT_(a, b)
// spatial_dense_forward_cpu -> spatial_dense_forward_cpu_isa_avx2, say.
#define SO_ISA_ENTRY(name) SO_CONCAT(name, SPATIAL_OPS_ISA)

namespace spatial_ops {

using ForwardCpuFn = void(const SpatialDenseSpec& spec, DType dtype, const void* x, const void* kernel,
                          const void* bias, void* y, const ParallelFor& parallel_for);
using BackwardCpuFn = void(const SpatialDenseSpec& spec, DType dtype, const void* dy, const void* x, const void* kernel,
                           const void* bias, void* dx, void* dkernel, void* dbias, const ParallelFor& parallel_for);
using FloatMathCpuFn = void(FloatFunction function, const float* x, float* y, int64_t n);

#define SO_DECLARE_ISA(isa, supported)                \
  ForwardCpuFn spatial_dense_forward_cpu_isa_##isa;   \
  BackwardCpuFn spatial_dense_backward_cpu_isa_##isa; \
  FloatMathCpuFn float_math_cpu_isa_##isa;
SPATIAL_OPS_CPU_ISAS(SO_DECLARE_ISA)
#undef SO_DECLARE_ISA

}  // namespace spatial_ops
