// CPU OpKernels: parse attributes, validate inputs (core/spec.h), allocate,
// and run the framework-free kernels on TensorFlow's intra-op thread pool.
#include <string>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"

#include "cpu/spatial_dense_cpu.h"
#include "tf/op_kernel_common.h"

namespace spatial_ops {
namespace tf_kernels {
namespace {

using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;

ParallelFor intra_op_pool(OpKernelContext* ctx) {
  auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
  return [pool](int64_t total, int64_t cost_per_unit, const WorkFn& work) {
    if (total > 0) pool->ParallelFor(total, cost_per_unit, work);
  };
}

class SpatialDenseOp : public SpatialDenseOpBase {
 public:
  using SpatialDenseOpBase::SpatialDenseOpBase;

  void Compute(OpKernelContext* ctx) override {
    SpatialDenseSpec spec;
    Tensor* y = nullptr;
    if (!prepare_forward(ctx, &spec, &y, /*in_place=*/true)) return;
    const Tensor &x = ctx->input(0), &kernel = ctx->input(1), &bias = ctx->input(2);
    spatial_dense_forward_cpu(spec, dtype_of(x), x.data(), kernel.data(), bias.data(), y->data(), intra_op_pool(ctx));
  }
};

class SpatialDenseGradOp : public SpatialDenseOpBase {
 public:
  using SpatialDenseOpBase::SpatialDenseOpBase;

  void Compute(OpKernelContext* ctx) override {
    SpatialDenseSpec spec;
    Tensor *dx = nullptr, *dkernel = nullptr, *dbias = nullptr;
    if (!prepare_backward(ctx, &spec, &dx, &dkernel, &dbias, /*in_place=*/true)) return;
    const Tensor &dy = ctx->input(0), &x = ctx->input(1), &kernel = ctx->input(2), &bias = ctx->input(3);
    spatial_dense_backward_cpu(spec, dtype_of(x), dy.data(), x.data(), kernel.data(), bias.data(), dx->data(),
                               dkernel->data(), dbias->data(), intra_op_pool(ctx));
  }
};

#define SPATIAL_OPS_REGISTER_CPU(T) \
  SPATIAL_OPS_REGISTER_KERNELS(tensorflow::DEVICE_CPU, SpatialDenseOp, SpatialDenseGradOp, T)
SPATIAL_OPS_FOR_EACH_TYPE(SPATIAL_OPS_REGISTER_CPU);
#undef SPATIAL_OPS_REGISTER_CPU

}  // namespace
}  // namespace tf_kernels
}  // namespace spatial_ops
