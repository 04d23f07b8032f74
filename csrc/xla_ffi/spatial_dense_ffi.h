// Typed XLA FFI handlers of both ops, written once for every front-end that
// compiles with XLA: TensorFlow's jit_compile lowering (csrc/tf/xla_lowering.cc)
// registers them, and JAX registers the very same symbols. Each handler
// takes the ops' attributes as a custom call's attributes (SpecAttributes,
// core/spec.h), checks them and the shapes with the same messages as the ops
// (checked_call.h), and runs the CPU kernels on the thread pool XLA gives it
// (host_handlers.cc) or the CUDA kernels on XLA's stream (cuda_handlers.cc).
#pragma once

#include "xla/ffi/api/api.h"

namespace spatial_ops {

// The custom-call targets.
inline constexpr const char* kForwardTarget = "spatial_ops_spatial_dense";
inline constexpr const char* kBackwardTarget = "spatial_ops_spatial_dense_grad";

// Activation parameters travel as the bit patterns of their doubles (an
// array<i64> attribute): exact, and Inf (relu's max_value=None) needs no syntax.

}  // namespace spatial_ops

// y = SpatialDense(x, kernel, bias) on the host.
XLA_FFI_DECLARE_HANDLER_SYMBOL(SpatialOpsSpatialDenseHost);
// (dx, dkernel, dbias) = SpatialDenseGrad(dy, x, kernel, bias) on the host.
XLA_FFI_DECLARE_HANDLER_SYMBOL(SpatialOpsSpatialDenseGradHost);
// The same on a CUDA device (built with the CUDA kernels only).
XLA_FFI_DECLARE_HANDLER_SYMBOL(SpatialOpsSpatialDenseCuda);
XLA_FFI_DECLARE_HANDLER_SYMBOL(SpatialOpsSpatialDenseGradCuda);
