// What the JAX handler library offers, read by spatial_ops/jax/_loader.py:
// each custom-call target's name and handler per XLA platform, so that the
// names are written once (spatial_dense_ffi.h) for every front-end.
#include "xla_ffi/spatial_dense_ffi.h"

extern "C" {

// One handler: which op it runs ("forward" or "backward"), the custom-call
// target it serves, the XLA platform ("cpu", "CUDA") and the handler itself.
struct SpatialOpsFfiTarget {
  const char* op;
  const char* target;
  const char* platform;
  void* handler;
};

// The handlers this library has, ended by an entry whose op is null.
__attribute__((visibility("default"))) const SpatialOpsFfiTarget* spatial_ops_ffi_targets() {
  static const SpatialOpsFfiTarget targets[] = {
      {"forward", spatial_ops::kForwardTarget, "cpu", reinterpret_cast<void*>(&SpatialOpsSpatialDenseHost)},
      {"backward", spatial_ops::kBackwardTarget, "cpu", reinterpret_cast<void*>(&SpatialOpsSpatialDenseGradHost)},
#ifdef SPATIAL_OPS_JAX_CUDA_HANDLERS
      {"forward", spatial_ops::kForwardTarget, "CUDA", reinterpret_cast<void*>(&SpatialOpsSpatialDenseCuda)},
      {"backward", spatial_ops::kBackwardTarget, "CUDA", reinterpret_cast<void*>(&SpatialOpsSpatialDenseGradCuda)},
#endif
      {nullptr, nullptr, nullptr, nullptr},
  };
  return targets;
}

}  // extern "C"
