// Lets the same inline math compile for the host (g++) and the device (nvcc).
#pragma once

#if defined(__CUDACC__)
#define SO_HD __host__ __device__ __forceinline__
#else
#define SO_HD inline
#endif

// Code that the CPU kernels compile once per instruction set (CMakeLists.txt
// builds cpu_forward.cc and cpu_backward.cc for each) lives in an inline
// namespace named after it, so inline functions built for AVX-512 can never be
// merged by the linker into code that runs on a CPU without it.
#ifndef SPATIAL_OPS_ISA
#define SPATIAL_OPS_ISA isa_baseline
#endif
#define SO_ISA_BEGIN inline namespace SPATIAL_OPS_ISA {
#define SO_ISA_END }
