#include <algorithm>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>

#include "cpu/parallel.h"
#include "cpu/spatial_dense_cpu.h"
#include "xla/ffi/api/ffi.h"
#include "xla_ffi/spatial_dense_ffi.h"

namespace ffi = xla::ffi;

namespace spatial_ops {
namespace {

bool dtype_of(ffi::DataType type, DType* dtype) {
  switch (type) {
    case ffi::DataType::F16: *dtype = DType::kFloat16; return true;
    case ffi::DataType::BF16: *dtype = DType::kBFloat16; return true;
    case ffi::DataType::F32: *dtype = DType::kFloat32; return true;
    case ffi::DataType::F64: *dtype = DType::kFloat64; return true;
    default: return false;
  }
}

Dims dims_of(const ffi::AnyBuffer& buffer) {
  const auto dims = buffer.dimensions();
  return Dims(dims.begin(), dims.end());
}

// The call's attributes parsed into *spec and its one dtype into *dtype;
// buffers lists the element types of every operand and result, x's first.
std::string parse_call(std::string_view activation, ffi::Span<const int64_t> param_bits,
                       std::string_view reduction, bool has_bias, int64_t derivative_order, int64_t reduce_begin,
                       int64_t reduce_end, std::initializer_list<ffi::DataType> buffers, SpatialDenseSpec* spec,
                       DType* dtype) {
  SpecAttributes attributes;
  attributes.activation = std::string(activation);
  for (const int64_t bits : param_bits) {
    double value;
    std::memcpy(&value, &bits, sizeof value);
    attributes.activation_params.push_back(value);
  }
  attributes.reduction = std::string(reduction);
  attributes.has_bias = has_bias;
  attributes.derivative_order = derivative_order;
  attributes.reduce_begin = reduce_begin;
  attributes.reduce_end = reduce_end;
  const std::string error = parse_attributes(attributes, spec);
  if (!error.empty()) return error;
  if (!dtype_of(*buffers.begin(), dtype)) return "x must be float16, bfloat16, float32 or float64";
  for (const ffi::DataType type : buffers) {
    if (type != *buffers.begin()) return "every operand and result must have x's dtype";
  }
  return "";
}

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
                        ffi::Result<ffi::AnyBuffer> y, std::string_view activation,
                        ffi::Span<const int64_t> param_bits, std::string_view reduction, bool has_bias,
                        int64_t derivative_order, int64_t reduce_begin, int64_t reduce_end) {
  SpatialDenseSpec spec;
  DType dtype;
  std::string error = parse_call(activation, param_bits, reduction, has_bias, derivative_order, reduce_begin,
                                 reduce_end, {x.element_type(), kernel.element_type(), bias.element_type(),
                                 y->element_type()}, &spec, &dtype);
  const Dims x_dims = dims_of(x);
  if (error.empty()) error = check_forward(x_dims, dims_of(kernel), dims_of(bias), &spec);
  if (error.empty() && dims_of(*y) != spec.output_dims(x_dims)) {
    error = "y is " + dims_to_string(dims_of(*y)) + " but must be " + dims_to_string(spec.output_dims(x_dims));
  }
  if (!error.empty()) return ffi::Error::InvalidArgument(error);
  spatial_dense_forward_cpu(spec, dtype, x.untyped_data(), kernel.untyped_data(), bias.untyped_data(),
                            y->untyped_data(), parallel_for_on(pool));
  return ffi::Error::Success();
}

ffi::Error backward_host(ffi::ThreadPool pool, ffi::AnyBuffer dy, ffi::AnyBuffer x, ffi::AnyBuffer kernel,
                         ffi::AnyBuffer bias, ffi::Result<ffi::AnyBuffer> dx, ffi::Result<ffi::AnyBuffer> dkernel,
                         ffi::Result<ffi::AnyBuffer> dbias, std::string_view activation,
                         ffi::Span<const int64_t> param_bits, std::string_view reduction, bool has_bias,
                         int64_t derivative_order, int64_t reduce_begin, int64_t reduce_end) {
  SpatialDenseSpec spec;
  DType dtype;
  std::string error = parse_call(activation, param_bits, reduction, has_bias, derivative_order, reduce_begin,
                                 reduce_end, {x.element_type(), dy.element_type(), kernel.element_type(),
                                 bias.element_type(), dx->element_type(), dkernel->element_type(),
                                 dbias->element_type()}, &spec, &dtype);
  if (error.empty()) error = check_backward(dims_of(dy), dims_of(x), dims_of(kernel), dims_of(bias), &spec);
  if (error.empty() && (dims_of(*dx) != dims_of(x) || dims_of(*dkernel) != dims_of(kernel) ||
                        dims_of(*dbias) != dims_of(bias))) {
    error = "the gradients must have the shapes of x, kernel and bias";
  }
  if (!error.empty()) return ffi::Error::InvalidArgument(error);
  spatial_dense_backward_cpu(spec, dtype, dy.untyped_data(), x.untyped_data(), kernel.untyped_data(),
                             bias.untyped_data(), dx->untyped_data(), dkernel->untyped_data(),
                             dbias->untyped_data(), parallel_for_on(pool));
  return ffi::Error::Success();
}

}  // namespace
}  // namespace spatial_ops

// The attributes, in the order the functions above take them.
#define SPATIAL_OPS_FFI_ATTRS                                   \
  .Attr<std::string_view>("activation")                         \
      .Attr<ffi::Span<const int64_t>>("activation_param_bits")  \
      .Attr<std::string_view>("reduction")                      \
      .Attr<bool>("has_bias")                                   \
      .Attr<int64_t>("derivative_order")                        \
      .Attr<int64_t>("reduce_begin")                            \
      .Attr<int64_t>("reduce_end")

XLA_FFI_DEFINE_HANDLER_SYMBOL(SpatialOpsSpatialDenseHost, spatial_ops::forward_host,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>() SPATIAL_OPS_FFI_ATTRS);

XLA_FFI_DEFINE_HANDLER_SYMBOL(SpatialOpsSpatialDenseGradHost, spatial_ops::backward_host,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>() SPATIAL_OPS_FFI_ATTRS);
