// Lets the same inline math compile for the host (g++) and the device (nvcc).
#pragma once

#if defined(__CUDACC__)
#define SO_HD __host__ __device__ __forceinline__
#else
#define SO_HD inline
#endif
