// The CUDA handlers: the CUDA kernels on the stream XLA passes the call, with
// their scratch from XLA's allocator (stream-ordered, freed after the call).
// Plain host C++: streams travel as void* (cuda/spatial_dense_cuda.h).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cuda/spatial_dense_cuda.h"
#include "xla_ffi/checked_call.h"
#include "xla_ffi/spatial_dense_ffi.h"

namespace spatial_ops {
namespace xla_ffi {
namespace {

// Scratch of `bytes` (none when 0) from XLA, 16-byte aligned as the launchers ask.
ffi::Error scratch_for(ffi::ScratchAllocator& allocator, size_t bytes, void** data) {
  *data = nullptr;
  if (bytes == 0) return ffi::Error::Success();
  const std::optional<void*> allocated = allocator.Allocate(bytes, 16);
  if (!allocated) {
    return ffi::Error(ffi::ErrorCode::kResourceExhausted,
                      "spatial_ops: XLA could not allocate " + std::to_string(bytes) + " bytes of scratch");
  }
  *data = *allocated;
  return ffi::Error::Success();
}

ffi::Error launched(const std::string& launch) {
  return launch.empty() ? ffi::Error::Success() : ffi::Error::Internal("spatial_ops: " + launch);
}

ffi::Error forward_cuda(void* stream, ffi::ScratchAllocator scratch, ffi::AnyBuffer x, ffi::AnyBuffer kernel,
                        ffi::AnyBuffer bias, ffi::Result<ffi::AnyBuffer> y, std::string_view activation,
                        ffi::Span<const int64_t> param_bits, std::string_view reduction, bool has_bias,
                        int64_t derivative_order, int64_t reduce_begin, int64_t reduce_end) {
  const CheckedCall call = check_forward_call(
      {activation, param_bits, reduction, has_bias, derivative_order, reduce_begin, reduce_end}, x, kernel, bias, *y);
  if (!call.error.empty()) return ffi::Error::InvalidArgument(call.error);
  void* workspace;
  ffi::Error allocated = scratch_for(scratch, spatial_dense_forward_cuda_workspace(call.spec, call.dtype), &workspace);
  if (allocated.failure()) return allocated;
  return launched(spatial_dense_forward_cuda(call.spec, call.dtype, x.untyped_data(), kernel.untyped_data(),
                                             bias.untyped_data(), y->untyped_data(), workspace, stream));
}

ffi::Error backward_cuda(void* stream, ffi::ScratchAllocator scratch, ffi::AnyBuffer dy, ffi::AnyBuffer x,
                         ffi::AnyBuffer kernel, ffi::AnyBuffer bias, ffi::Result<ffi::AnyBuffer> dx,
                         ffi::Result<ffi::AnyBuffer> dkernel, ffi::Result<ffi::AnyBuffer> dbias,
                         std::string_view activation, ffi::Span<const int64_t> param_bits, std::string_view reduction,
                         bool has_bias, int64_t derivative_order, int64_t reduce_begin, int64_t reduce_end) {
  const CheckedCall call =
      check_backward_call({activation, param_bits, reduction, has_bias, derivative_order, reduce_begin, reduce_end}, dy,
                          x, kernel, bias, *dx, *dkernel, *dbias);
  if (!call.error.empty()) return ffi::Error::InvalidArgument(call.error);
  void* workspace;
  ffi::Error allocated = scratch_for(scratch, spatial_dense_backward_cuda_workspace(call.spec, call.dtype), &workspace);
  if (allocated.failure()) return allocated;
  return launched(spatial_dense_backward_cuda(call.spec, call.dtype, dy.untyped_data(), x.untyped_data(),
                                              kernel.untyped_data(), bias.untyped_data(), dx->untyped_data(),
                                              dkernel->untyped_data(), dbias->untyped_data(), workspace, stream));
}

}  // namespace
}  // namespace xla_ffi
}  // namespace spatial_ops

namespace ffi = xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(SpatialOpsSpatialDenseCuda, spatial_ops::xla_ffi::forward_cuda,
                              ffi::Ffi::Bind().Ctx<ffi::PlatformStream<void*>>().Ctx<ffi::ScratchAllocator>()
                                  SPATIAL_OPS_FFI_FORWARD_BUFFERS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(SpatialOpsSpatialDenseGradCuda, spatial_ops::xla_ffi::backward_cuda,
                              ffi::Ffi::Bind().Ctx<ffi::PlatformStream<void*>>().Ctx<ffi::ScratchAllocator>()
                                  SPATIAL_OPS_FFI_BACKWARD_BUFFERS);
