// What every XLA FFI handler of the ops does before it runs a kernel, written
// once for the host and CUDA handlers: parse the custom call's attributes
// (SpecAttributes, core/spec.h) and check them, the dtypes and the shapes with
// the same messages as the ops. Included only by the handlers' sources.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/spec.h"
#include "xla/ffi/api/ffi.h"

namespace spatial_ops {
namespace xla_ffi {

namespace ffi = xla::ffi;

// The attributes as the handlers take them, in the order of SPATIAL_OPS_FFI_ATTRS.
struct CallAttributes {
  std::string_view activation;
  ffi::Span<const int64_t> activation_param_bits;  // the doubles' bit patterns
  std::string_view reduction;
  bool has_bias;
  int64_t derivative_order, reduce_begin, reduce_end;
};

// The operands and results of a call, once checked.
struct CheckedCall {
  std::string error;  // empty when the call is valid
  SpatialDenseSpec spec;
  DType dtype = DType::kFloat32;
};

inline bool dtype_of(ffi::DataType type, DType* dtype) {
  switch (type) {
    case ffi::DataType::F16:
      *dtype = DType::kFloat16;
      return true;
    case ffi::DataType::BF16:
      *dtype = DType::kBFloat16;
      return true;
    case ffi::DataType::F32:
      *dtype = DType::kFloat32;
      return true;
    case ffi::DataType::F64:
      *dtype = DType::kFloat64;
      return true;
    default:
      return false;
  }
}

inline Dims dims_of(const ffi::AnyBuffer& buffer) {
  const auto dims = buffer.dimensions();
  return Dims(dims.begin(), dims.end());
}

// The spec from the attributes, and the one dtype of every buffer (x's first).
inline CheckedCall parse_call(const CallAttributes& call, std::initializer_list<ffi::DataType> buffers) {
  CheckedCall checked;
  SpecAttributes attributes;
  attributes.activation = std::string(call.activation);
  for (const int64_t bits : call.activation_param_bits) {
    double value;
    std::memcpy(&value, &bits, sizeof value);
    attributes.activation_params.push_back(value);
  }
  attributes.reduction = std::string(call.reduction);
  attributes.has_bias = call.has_bias;
  attributes.derivative_order = call.derivative_order;
  attributes.reduce_begin = call.reduce_begin;
  attributes.reduce_end = call.reduce_end;
  checked.error = parse_attributes(attributes, &checked.spec);
  if (!checked.error.empty()) return checked;
  if (!dtype_of(*buffers.begin(), &checked.dtype)) {
    checked.error = "x must be float16, bfloat16, float32 or float64";
    return checked;
  }
  for (const ffi::DataType type : buffers) {
    if (type != *buffers.begin()) checked.error = "every operand and result must have x's dtype";
  }
  return checked;
}

inline CheckedCall check_forward_call(const CallAttributes& call, const ffi::AnyBuffer& x, const ffi::AnyBuffer& kernel,
                                      const ffi::AnyBuffer& bias, const ffi::AnyBuffer& y) {
  CheckedCall checked =
      parse_call(call, {x.element_type(), kernel.element_type(), bias.element_type(), y.element_type()});
  const Dims x_dims = dims_of(x);
  if (checked.error.empty()) checked.error = check_forward(x_dims, dims_of(kernel), dims_of(bias), &checked.spec);
  if (checked.error.empty() && dims_of(y) != checked.spec.output_dims(x_dims)) {
    checked.error =
        "y is " + dims_to_string(dims_of(y)) + " but must be " + dims_to_string(checked.spec.output_dims(x_dims));
  }
  return checked;
}

inline CheckedCall check_backward_call(const CallAttributes& call, const ffi::AnyBuffer& dy, const ffi::AnyBuffer& x,
                                       const ffi::AnyBuffer& kernel, const ffi::AnyBuffer& bias,
                                       const ffi::AnyBuffer& dx, const ffi::AnyBuffer& dkernel,
                                       const ffi::AnyBuffer& dbias) {
  CheckedCall checked =
      parse_call(call, {x.element_type(), dy.element_type(), kernel.element_type(), bias.element_type(),
                        dx.element_type(), dkernel.element_type(), dbias.element_type()});
  if (checked.error.empty()) {
    checked.error = check_backward(dims_of(dy), dims_of(x), dims_of(kernel), dims_of(bias), &checked.spec);
  }
  if (checked.error.empty() &&
      (dims_of(dx) != dims_of(x) || dims_of(dkernel) != dims_of(kernel) || dims_of(dbias) != dims_of(bias))) {
    checked.error = "the gradients must have the shapes of x, kernel and bias";
  }
  return checked;
}

}  // namespace xla_ffi
}  // namespace spatial_ops

// The attributes every handler binds, in CallAttributes' order.
#define SPATIAL_OPS_FFI_ATTRS                                  \
  .Attr<std::string_view>("activation")                        \
      .Attr<ffi::Span<const int64_t>>("activation_param_bits") \
      .Attr<std::string_view>("reduction")                     \
      .Attr<bool>("has_bias")                                  \
      .Attr<int64_t>("derivative_order")                       \
      .Attr<int64_t>("reduce_begin")                           \
      .Attr<int64_t>("reduce_end")

// What a handler binds after its platform's context: the forward's
// (x, kernel, bias) -> y, the backward's (dy, x, kernel, bias) -> (dx,
// dkernel, dbias), then the attributes.
#define SPATIAL_OPS_FFI_FORWARD_BUFFERS \
  .Arg<ffi::AnyBuffer>().Arg<ffi::AnyBuffer>().Arg<ffi::AnyBuffer>().Ret<ffi::AnyBuffer>() SPATIAL_OPS_FFI_ATTRS
#define SPATIAL_OPS_FFI_BACKWARD_BUFFERS \
  .Arg<ffi::AnyBuffer>()                 \
      .Arg<ffi::AnyBuffer>()             \
      .Arg<ffi::AnyBuffer>()             \
      .Arg<ffi::AnyBuffer>()             \
      .Ret<ffi::AnyBuffer>()             \
      .Ret<ffi::AnyBuffer>()             \
      .Ret<ffi::AnyBuffer>() SPATIAL_OPS_FFI_ATTRS
