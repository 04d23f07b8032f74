// What the CPU and GPU OpKernels share: the attributes both ops take, parsed
// once at construction into a SpatialDenseSpec, and the kernels' view of a
// tensor (dtype and dims).
#pragma once

#include <charconv>
#include <string>
#include <vector>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

#include "core/dtypes.h"
#include "core/spec.h"

namespace spatial_ops {
namespace tf_kernels {

inline DType dtype_of(const tensorflow::Tensor& t) {
  switch (t.dtype()) {
    case tensorflow::DT_HALF:
      return DType::kFloat16;
    case tensorflow::DT_BFLOAT16:
      return DType::kBFloat16;
    case tensorflow::DT_FLOAT:
      return DType::kFloat32;
    default:
      return DType::kFloat64;  // the op's type constraint admits no other
  }
}

inline Dims dims_of(const tensorflow::TensorShape& shape) {
  const auto sizes = shape.dim_sizes();
  return Dims(sizes.begin(), sizes.end());
}
inline Dims dims_of(const tensorflow::Tensor& t) { return dims_of(t.shape()); }

// Reads the attributes both ops share; errors name the attribute. The XLA
// lowering passes them on to the custom call as they are.
inline std::string read_attributes(tensorflow::OpKernelConstruction* ctx, SpecAttributes* attributes) {
  std::vector<std::string> param_strings;
  if (!ctx->GetAttr("activation", &attributes->activation).ok() ||
      !ctx->GetAttr("activation_params", &param_strings).ok() ||
      !ctx->GetAttr("reduction", &attributes->reduction).ok() ||
      !ctx->GetAttr("has_bias", &attributes->has_bias).ok() ||
      !ctx->GetAttr("derivative_order", &attributes->derivative_order).ok() ||
      !ctx->GetAttr("reduce_begin", &attributes->reduce_begin).ok() ||
      !ctx->GetAttr("reduce_end", &attributes->reduce_end).ok()) {
    return "missing attribute: expected activation, activation_params, reduction, has_bias, "
           "derivative_order, reduce_begin, reduce_end";
  }
  // Parameters travel as decimal text: a float attribute would round them to float32.
  for (const std::string& text : param_strings) {
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) {
      return "activation_params must be decimal numbers, got '" + text + "'";
    }
    attributes->activation_params.push_back(value);
  }
  return "";
}

// The attributes, read and parsed into spec (everything but its shape).
inline std::string spec_from_attrs(tensorflow::OpKernelConstruction* ctx, SpatialDenseSpec* spec,
                                   SpecAttributes* attributes) {
  const std::string error = read_attributes(ctx, attributes);
  return error.empty() ? parse_attributes(*attributes, spec) : error;
}

// Both ops, on every device, parse the same attributes once, at construction,
// and check their inputs and allocate their outputs alike; a device's
// Compute only launches its kernels.
class SpatialDenseOpBase : public tensorflow::OpKernel {
 public:
  explicit SpatialDenseOpBase(tensorflow::OpKernelConstruction* ctx) : OpKernel(ctx) {
    SpecAttributes attributes;
    const std::string error = spec_from_attrs(ctx, &spec_, &attributes);
    OP_REQUIRES(ctx, error.empty(), absl::InvalidArgumentError(error));
  }

 protected:
  // SpatialDense(x, kernel, bias): checks the inputs into *spec and
  // allocates y. False, with the error on ctx, when the inputs are bad.
  // in_place: y may take x's buffer where TensorFlow can forward it (x dies
  // with this op, as in inference; the kernels allow it without a reduction).
  bool prepare_forward(tensorflow::OpKernelContext* ctx, SpatialDenseSpec* spec, tensorflow::Tensor** y,
                       bool in_place) const {
    *spec = spec_;
    const Dims x = dims_of(ctx->input(0));
    const std::string error = check_forward(x, dims_of(ctx->input(1)), dims_of(ctx->input(2)), spec);
    if (!error.empty()) {
      ctx->CtxFailure(absl::InvalidArgumentError(error));
      return false;
    }
    const tensorflow::TensorShape y_shape(spec->output_dims(x));
    if (in_place && !spec->reduces()) return ok(ctx, ctx->forward_input_or_allocate_output({0}, 0, y_shape, y));
    return ok(ctx, ctx->allocate_output(0, y_shape, y));
  }

  // SpatialDenseGrad(dy, x, kernel, bias): the same, for dx, dkernel, dbias;
  // in_place: dx may take dy's buffer (dy dies with this op in a training
  // step: a whole x-sized tensor less at the step's peak).
  bool prepare_backward(tensorflow::OpKernelContext* ctx, SpatialDenseSpec* spec, tensorflow::Tensor** dx,
                        tensorflow::Tensor** dkernel, tensorflow::Tensor** dbias, bool in_place) const {
    *spec = spec_;
    const std::string error = check_backward(dims_of(ctx->input(0)), dims_of(ctx->input(1)), dims_of(ctx->input(2)),
                                             dims_of(ctx->input(3)), spec);
    if (!error.empty()) {
      ctx->CtxFailure(absl::InvalidArgumentError(error));
      return false;
    }
    const tensorflow::TensorShape& x_shape = ctx->input(1).shape();
    const absl::Status dx_status = in_place && !spec->reduces()
                                       ? ctx->forward_input_or_allocate_output({0}, 0, x_shape, dx)
                                       : ctx->allocate_output(0, x_shape, dx);
    return ok(ctx, dx_status) && ok(ctx, ctx->allocate_output(1, ctx->input(2).shape(), dkernel)) &&
           ok(ctx, ctx->allocate_output(2, ctx->input(3).shape(), dbias));
  }

  SpatialDenseSpec spec_;

 private:
  static bool ok(tensorflow::OpKernelContext* ctx, const absl::Status& status) {
    if (!status.ok()) ctx->CtxFailure(status);
    return status.ok();
  }
};

// Registers FORWARD and BACKWARD as both ops' kernels on DEVICE for type T;
// SPATIAL_OPS_FOR_EACH_TYPE(M) runs a one-argument M for every dtype the ops take.
#define SPATIAL_OPS_REGISTER_KERNELS(DEVICE, FORWARD, BACKWARD, T)                                         \
  REGISTER_KERNEL_BUILDER(Name("SpatialOps>SpatialDense").Device(DEVICE).TypeConstraint<T>("T"), FORWARD); \
  REGISTER_KERNEL_BUILDER(Name("SpatialOps>SpatialDenseGrad").Device(DEVICE).TypeConstraint<T>("T"), BACKWARD);
#define SPATIAL_OPS_FOR_EACH_TYPE(M) \
  TF_CALL_half(M);                   \
  TF_CALL_bfloat16(M);               \
  TF_CALL_float(M);                  \
  TF_CALL_double(M)

}  // namespace tf_kernels
}  // namespace spatial_ops
