// The TensorFlow release and C++ ABI this op library is compiled against, kept
// as text in the binary. The loader (spatial_ops/tensorflow/_loader.py) reads it from the
// file before loading it, so a library that ends up beside another TensorFlow
// (a copied file, an old build) is refused with a clear ImportError instead of
// an undefined-symbol error.
//
// The release comes from the build (CMake's TF_VERSION, set by setup.py from
// tf.__version__): TensorFlow's headers carry it only up to 2.19. The ABI is
// the one this file is actually compiled with. xla_lowering says whether the
// library lowers the ops to XLA custom calls (csrc/tf/xla_lowering.cc, built
// where the TensorFlow allows it): where it does not, the Python wrapper
// keeps the composite under XLA. gpu_kernels says whether it has the CUDA
// OpKernels (a CUDA TensorFlow, nvcc found), xla_gpu whether XLA's GPU
// compiler lowers the ops too (both of those): the loader warns where
// TensorFlow sees a GPU the library cannot run on.
#include <cstddef>  // defines _GLIBCXX_USE_CXX11_ABI when the flags do not

#define SPATIAL_OPS_STRINGIFY_(x) #x
#define SPATIAL_OPS_STRINGIFY(x) SPATIAL_OPS_STRINGIFY_(x)

// Format parsed by spatial_ops/tensorflow/_loader.py: keep both in step.
extern "C" __attribute__((used, visibility("default"))) const char spatial_ops_build_stamp[] =
    "spatial_ops-build-stamp:tensorflow=" SPATIAL_OPS_STRINGIFY(SPATIAL_OPS_TF_VERSION)
    ";cxx11_abi=" SPATIAL_OPS_STRINGIFY(_GLIBCXX_USE_CXX11_ABI) ";"
    "xla_lowering=" SPATIAL_OPS_STRINGIFY(SPATIAL_OPS_XLA_LOWERING) ";"
    "gpu_kernels=" SPATIAL_OPS_STRINGIFY(SPATIAL_OPS_GPU_KERNELS) ";"
    "xla_gpu=" SPATIAL_OPS_STRINGIFY(SPATIAL_OPS_XLA_GPU) ";";
