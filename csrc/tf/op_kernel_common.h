// What the CPU and GPU OpKernels share: the attributes both ops take, parsed
// once at construction into a SpatialDenseSpec, and the kernels' view of a
// tensor (dtype and dims).
#pragma once

#include <charconv>
#include <string>
#include <vector>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

#include "../kernels/dtypes.h"
#include "../kernels/spec.h"

namespace spatial_ops {
namespace tf_kernels {

inline DType dtype_of(const tensorflow::Tensor& t) {
  switch (t.dtype()) {
    case tensorflow::DT_HALF: return DType::kFloat16;
    case tensorflow::DT_BFLOAT16: return DType::kBFloat16;
    case tensorflow::DT_FLOAT: return DType::kFloat32;
    default: return DType::kFloat64;  // the op's type constraint admits no other
  }
}

inline Dims dims_of(const tensorflow::Tensor& t) {
  const auto sizes = t.shape().dim_sizes();
  return Dims(sizes.begin(), sizes.end());
}

// Reads the attributes both ops share; errors name the attribute.
inline std::string spec_from_attrs(tensorflow::OpKernelConstruction* ctx, SpatialDenseSpec* spec) {
  std::string activation, reduction;
  std::vector<std::string> param_strings;
  int64_t derivative_order = 0;
  if (!ctx->GetAttr("activation", &activation).ok() ||
      !ctx->GetAttr("activation_params", &param_strings).ok() ||
      !ctx->GetAttr("reduction", &reduction).ok() || !ctx->GetAttr("has_bias", &spec->has_bias).ok() ||
      !ctx->GetAttr("derivative_order", &derivative_order).ok()) {
    return "missing attribute: expected activation, activation_params, reduction, has_bias, "
           "derivative_order";
  }
  std::vector<double> params;
  for (const std::string& text : param_strings) {
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) {
      return "activation_params must be decimal numbers, got '" + text + "'";
    }
    params.push_back(value);
  }
  std::string error = parse_reduction(reduction, &spec->reduction);
  if (error.empty()) error = parse_activation(activation, params, &spec->activation, &spec->params);
  if (error.empty()) error = check_derivative_order(derivative_order);
  spec->derivative_order = static_cast<int>(derivative_order);
  return error;
}

// Both ops, on every device, parse the same attributes once, at construction.
class SpatialDenseOpBase : public tensorflow::OpKernel {
 public:
  explicit SpatialDenseOpBase(tensorflow::OpKernelConstruction* ctx) : OpKernel(ctx) {
    const std::string error = spec_from_attrs(ctx, &spec_);
    OP_REQUIRES(ctx, error.empty(), absl::InvalidArgumentError(error));
  }

 protected:
  SpatialDenseSpec spec_;
};

}  // namespace tf_kernels
}  // namespace spatial_ops
