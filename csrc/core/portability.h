// Lets the same inline math compile for the host (g++) and the device (nvcc).
#pragma once

// Host math is always inlined: the element loops that call it vectorise only
// when no call is left in them, and GCC's size limits would otherwise leave
// calls to the larger functions (tanh, erfc) once a translation unit holds
// few other functions to grow from.
#define SO_INLINE inline __attribute__((always_inline))
#if defined(__CUDACC__)
#define SO_HD __host__ __device__ __forceinline__
#else
#define SO_HD SO_INLINE
#endif

// Code that the CPU kernels compile once per instruction set (CMakeLists.txt
// builds cpu/forward.cc and cpu/backward.cc for each) lives in an inline
// namespace named after it, so inline functions built for AVX-512 can never be
// merged by the linker into code that runs on a CPU without it.
#ifndef SPATIAL_OPS_ISA
#define SPATIAL_OPS_ISA isa_baseline
#endif
#define SO_ISA_BEGIN inline namespace SPATIAL_OPS_ISA {
#define SO_ISA_END }
