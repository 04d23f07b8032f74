// CPU OpKernels: parse attributes, validate inputs (kernels/spec.h), allocate,
// and run the framework-free kernels on TensorFlow's intra-op thread pool.
#include <charconv>
#include <string>
#include <vector>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"

#include "../kernels/cpu.h"

namespace spatial_ops {
namespace {

using ::tensorflow::OpKernel;
using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;

DType dtype_of(const Tensor& t) {
  switch (t.dtype()) {
    case tensorflow::DT_HALF: return DType::kFloat16;
    case tensorflow::DT_BFLOAT16: return DType::kBFloat16;
    case tensorflow::DT_FLOAT: return DType::kFloat32;
    default: return DType::kFloat64;  // the op's type constraint admits no other
  }
}

Dims dims_of(const Tensor& t) {
  const auto sizes = t.shape().dim_sizes();
  return Dims(sizes.begin(), sizes.end());
}

// Reads the attributes both ops share; errors name the attribute.
std::string spec_from_attrs(OpKernelConstruction* ctx, SpatialDenseSpec* spec) {
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

ParallelFor intra_op_pool(OpKernelContext* ctx) {
  auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  return [pool](int64_t total, int64_t cost_per_unit, const WorkFn& work) {
    if (total > 0) pool->ParallelFor(total, cost_per_unit, work);
  };
}

// Both ops parse the same attributes once, at construction.
class SpatialDenseOpBase : public OpKernel {
 public:
  explicit SpatialDenseOpBase(OpKernelConstruction* ctx) : OpKernel(ctx) {
    const std::string error = spec_from_attrs(ctx, &spec_);
    OP_REQUIRES(ctx, error.empty(), absl::InvalidArgumentError(error));
  }

 protected:
  SpatialDenseSpec spec_;
};

class SpatialDenseOp : public SpatialDenseOpBase {
 public:
  using SpatialDenseOpBase::SpatialDenseOpBase;

  void Compute(OpKernelContext* ctx) override {
    const Tensor &x = ctx->input(0), &kernel = ctx->input(1), &bias = ctx->input(2);
    SpatialDenseSpec spec = spec_;
    const std::string error = check_forward(dims_of(x), dims_of(kernel), dims_of(bias), &spec);
    OP_REQUIRES(ctx, error.empty(), absl::InvalidArgumentError(error));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape(spec.output_dims()), &y));
    spatial_dense_forward_cpu(spec, dtype_of(x), x.data(), kernel.data(), bias.data(), y->data(),
                              intra_op_pool(ctx));
  }
};

class SpatialDenseGradOp : public SpatialDenseOpBase {
 public:
  using SpatialDenseOpBase::SpatialDenseOpBase;

  void Compute(OpKernelContext* ctx) override {
    const Tensor &dy = ctx->input(0), &x = ctx->input(1), &kernel = ctx->input(2),
                 &bias = ctx->input(3);
    SpatialDenseSpec spec = spec_;
    const std::string error =
        check_backward(dims_of(dy), dims_of(x), dims_of(kernel), dims_of(bias), &spec);
    OP_REQUIRES(ctx, error.empty(), absl::InvalidArgumentError(error));
    Tensor *dx = nullptr, *dkernel = nullptr, *dbias = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, kernel.shape(), &dkernel));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(2, bias.shape(), &dbias));
    spatial_dense_backward_cpu(spec, dtype_of(x), dy.data(), x.data(), kernel.data(), bias.data(),
                               dx->data(), dkernel->data(), dbias->data(), intra_op_pool(ctx));
  }
};

#define SPATIAL_OPS_REGISTER_CPU(T)                                                     \
  REGISTER_KERNEL_BUILDER(                                                              \
      Name("SpatialOps>SpatialDense").Device(tensorflow::DEVICE_CPU).TypeConstraint<T>("T"), \
      SpatialDenseOp);                                                                  \
  REGISTER_KERNEL_BUILDER(Name("SpatialOps>SpatialDenseGrad")                           \
                              .Device(tensorflow::DEVICE_CPU)                           \
                              .TypeConstraint<T>("T"),                                  \
                          SpatialDenseGradOp);
TF_CALL_half(SPATIAL_OPS_REGISTER_CPU);
TF_CALL_bfloat16(SPATIAL_OPS_REGISTER_CPU);
TF_CALL_float(SPATIAL_OPS_REGISTER_CPU);
TF_CALL_double(SPATIAL_OPS_REGISTER_CPU);
#undef SPATIAL_OPS_REGISTER_CPU

}  // namespace
}  // namespace spatial_ops
