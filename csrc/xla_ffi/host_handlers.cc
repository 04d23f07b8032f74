// The host handlers: the CPU kernels on the thread pool XLA gives the call.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string_view>

#include "cpu/parallel.h"
#include "cpu/spatial_dense_cpu.h"
#include "xla_ffi/checked_call.h"
#include "xla_ffi/spatial_dense_ffi.h"

namespace spatial_ops {
namespace xla_ffi {
namespace {

// work(begin, end) over [0, total) in pieces on XLA's intra-op pool and the
// calling thread, which finishes the work itself if the pool's threads are
// busy (a handler may run on one of them).
ParallelFor parallel_for_on(ffi::ThreadPool& pool) {
  return [&pool](int64_t total, int64_t cost_per_unit, const WorkFn& work) {
    run_in_pieces(total, cost_per_unit, std::max<int64_t>(1, pool.num_threads()) + 1, work,
                  [&pool](std::function<void()> task) { pool.Schedule(std::move(task)); });
  };
}

ffi::Error forward_host(ffi::ThreadPool pool, ffi::AnyBuffer x, ffi::AnyBuffer kernel, ffi::AnyBuffer bias,
                        ffi::Result<ffi::AnyBuffer> y, std::string_view activation, ffi::Span<const int64_t> param_bits,
                        std::string_view reduction, bool has_bias, int64_t derivative_order, int64_t reduce_begin,
                        int64_t reduce_end) {
  const CheckedCall call = check_forward_call(
      {activation, param_bits, reduction, has_bias, derivative_order, reduce_begin, reduce_end}, x, kernel, bias, *y);
  if (!call.error.empty()) return ffi::Error::InvalidArgument(call.error);
  spatial_dense_forward_cpu(call.spec, call.dtype, x.untyped_data(), kernel.untyped_data(), bias.untyped_data(),
                            y->untyped_data(), parallel_for_on(pool));
  return ffi::Error::Success();
}

ffi::Error backward_host(ffi::ThreadPool pool, ffi::AnyBuffer dy, ffi::AnyBuffer x, ffi::AnyBuffer kernel,
                         ffi::AnyBuffer bias, ffi::Result<ffi::AnyBuffer> dx, ffi::Result<ffi::AnyBuffer> dkernel,
                         ffi::Result<ffi::AnyBuffer> dbias, std::string_view activation,
                         ffi::Span<const int64_t> param_bits, std::string_view reduction, bool has_bias,
                         int64_t derivative_order, int64_t reduce_begin, int64_t reduce_end) {
  const CheckedCall call =
      check_backward_call({activation, param_bits, reduction, has_bias, derivative_order, reduce_begin, reduce_end}, dy,
                          x, kernel, bias, *dx, *dkernel, *dbias);
  if (!call.error.empty()) return ffi::Error::InvalidArgument(call.error);
  spatial_dense_backward_cpu(call.spec, call.dtype, dy.untyped_data(), x.untyped_data(), kernel.untyped_data(),
                             bias.untyped_data(), dx->untyped_data(), dkernel->untyped_data(), dbias->untyped_data(),
                             parallel_for_on(pool));
  return ffi::Error::Success();
}

}  // namespace
}  // namespace xla_ffi
}  // namespace spatial_ops

namespace ffi = xla::ffi;

XLA_FFI_DEFINE_HANDLER_SYMBOL(SpatialOpsSpatialDenseHost, spatial_ops::xla_ffi::forward_host,
                              ffi::Ffi::Bind().Ctx<ffi::ThreadPool>() SPATIAL_OPS_FFI_FORWARD_BUFFERS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(SpatialOpsSpatialDenseGradHost, spatial_ops::xla_ffi::backward_host,
                              ffi::Ffi::Bind().Ctx<ffi::ThreadPool>() SPATIAL_OPS_FFI_BACKWARD_BUFFERS);
