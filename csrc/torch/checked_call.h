// What every PyTorch operator of spatial_ops does before it runs a kernel,
// written once for the CPU and CUDA implementations: parse the attributes
// and check them, the dtypes, the devices and the shapes (core/spec.h) with
// the messages of the other front-ends, raised as Python's ValueError.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/dtypes.h"
#include "core/spec.h"

namespace spatial_ops {
namespace torch_ops {

// The operators' attributes, in their schema's order (operators.cc).
struct Attributes {
  c10::string_view activation;
  c10::ArrayRef<double> activation_params;
  c10::string_view reduction;
  bool has_bias;
  int64_t derivative_order, reduce_begin, reduce_end;
};

struct CheckedCall {
  SpatialDenseSpec spec;
  DType dtype;
};

inline Dims dims_of(const at::Tensor& tensor) { return Dims(tensor.sizes().begin(), tensor.sizes().end()); }

inline std::string describe(const char* name, const at::Tensor& tensor) {
  return std::string(name) + " is " + std::string(c10::toString(tensor.scalar_type())) + " " +
         dims_to_string(dims_of(tensor)) + " on " + tensor.device().str();
}

inline DType dtype_of(const at::Tensor& x) {
  switch (x.scalar_type()) {
    case at::kHalf:
      return DType::kFloat16;
    case at::kBFloat16:
      return DType::kBFloat16;
    case at::kFloat:
      return DType::kFloat32;
    case at::kDouble:
      return DType::kFloat64;
    default:
      TORCH_CHECK_VALUE(false, "x must be float16, bfloat16, float32 or float64, but ", describe("x", x));
  }
}

// One dtype and one device for every operand (x's).
inline DType common_dtype(std::initializer_list<std::pair<const char*, const at::Tensor*>> operands) {
  const at::Tensor& x = *operands.begin()->second;
  const char* x_name = operands.begin()->first;
  for (const auto& [name, tensor] : operands) {
    TORCH_CHECK_VALUE(tensor->scalar_type() == x.scalar_type(), "mixed dtypes: ", describe(x_name, x), " but ",
                      describe(name, *tensor), "; pass every operand in one dtype");
    TORCH_CHECK_VALUE(tensor->device() == x.device(), "mixed devices: ", describe(x_name, x), " but ",
                      describe(name, *tensor), "; pass every operand on one device");
  }
  return dtype_of(x);
}

inline SpatialDenseSpec parse(const Attributes& call) {
  SpecAttributes attributes;
  attributes.activation = std::string(call.activation);
  attributes.activation_params.assign(call.activation_params.begin(), call.activation_params.end());
  attributes.reduction = std::string(call.reduction);
  attributes.has_bias = call.has_bias;
  attributes.derivative_order = call.derivative_order;
  attributes.reduce_begin = call.reduce_begin;
  attributes.reduce_end = call.reduce_end;
  SpatialDenseSpec spec;
  const std::string error = parse_attributes(attributes, &spec);
  TORCH_CHECK_VALUE(error.empty(), error);
  return spec;
}

inline CheckedCall check_forward_call(const Attributes& call, const at::Tensor& x, const at::Tensor& kernel,
                                      const at::Tensor& bias) {
  CheckedCall checked{parse(call), common_dtype({{"x", &x}, {"kernel", &kernel}, {"bias", &bias}})};
  const std::string error = check_forward(dims_of(x), dims_of(kernel), dims_of(bias), &checked.spec);
  TORCH_CHECK_VALUE(error.empty(), error);
  return checked;
}

inline CheckedCall check_backward_call(const Attributes& call, const at::Tensor& dy, const at::Tensor& x,
                                       const at::Tensor& kernel, const at::Tensor& bias) {
  CheckedCall checked{parse(call), common_dtype({{"x", &x}, {"dy", &dy}, {"kernel", &kernel}, {"bias", &bias}})};
  const std::string error = check_backward(dims_of(dy), dims_of(x), dims_of(kernel), dims_of(bias), &checked.spec);
  TORCH_CHECK_VALUE(error.empty(), error);
  return checked;
}

// The operands in the layout the kernels read (contiguous copies where they
// are not) and the results they write, allocated on x's device.
struct ForwardTensors {
  at::Tensor x, kernel, bias, y;
};
inline ForwardTensors forward_tensors(const CheckedCall& call, const at::Tensor& x, const at::Tensor& kernel,
                                      const at::Tensor& bias) {
  return {x.contiguous(), kernel.contiguous(), bias.contiguous(),
          at::empty(call.spec.output_dims(dims_of(x)), x.options())};
}

struct BackwardTensors {
  at::Tensor dy, x, kernel, bias, dx, dkernel, dbias;
};
inline BackwardTensors backward_tensors(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& kernel,
                                        const at::Tensor& bias) {
  BackwardTensors t{dy.contiguous(), x.contiguous(), kernel.contiguous(), bias.contiguous(), {}, {}, {}};
  t.dx = at::empty_like(t.x);
  t.dkernel = at::empty_like(t.kernel);
  t.dbias = at::empty_like(t.bias);
  return t;
}

// The operator functions of one device, in the schemas' signatures.
#define SPATIAL_OPS_TORCH_FORWARD_ARGS                                                                              \
  const at::Tensor &x, const at::Tensor &kernel, const at::Tensor &bias, c10::string_view activation,               \
      c10::ArrayRef<double> activation_params, c10::string_view reduction, bool has_bias, int64_t derivative_order, \
      int64_t reduce_begin, int64_t reduce_end
#define SPATIAL_OPS_TORCH_BACKWARD_ARGS const at::Tensor &dy, SPATIAL_OPS_TORCH_FORWARD_ARGS
#define SPATIAL_OPS_TORCH_ATTRIBUTES \
  Attributes { activation, activation_params, reduction, has_bias, derivative_order, reduce_begin, reduce_end }

}  // namespace torch_ops
}  // namespace spatial_ops
