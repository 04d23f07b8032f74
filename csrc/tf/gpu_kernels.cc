// GPU OpKernels: validate inputs (core/spec.h), allocate outputs and
// scratch with TensorFlow's allocator, and queue the CUDA launchers
// (cuda/spatial_dense_cuda.h) on the op's own stream. Host C++ only: as in
// tensorflow/custom-op, the .cu files include no TensorFlow header.
// Compiled with GOOGLE_CUDA=1 and EIGEN_USE_GPU (CMakeLists.txt).
#include <string>

#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/register_types.h"
#include "tensorflow/core/framework/tensor.h"
#include "unsupported/Eigen/CXX11/Tensor"

#include "cuda/spatial_dense_cuda.h"
#include "tf/op_kernel_common.h"

namespace spatial_ops {
namespace tf_kernels {
namespace {

using ::tensorflow::OpKernelConstruction;
using ::tensorflow::OpKernelContext;
using ::tensorflow::Tensor;
using ::tensorflow::TensorShape;

// The stream TensorFlow runs this op's kernels on: queued there, the launch
// follows the ops that produced the inputs and precedes those that use the
// outputs, with no synchronisation.
void* stream_of(OpKernelContext* ctx) { return static_cast<void*>(ctx->eigen_device<Eigen::GpuDevice>().stream()); }

// Scratch from TensorFlow's device allocator, held by *holder until Compute
// returns; the allocator reuses it only for work queued later on the stream.
absl::Status allocate_scratch(OpKernelContext* ctx, size_t bytes, Tensor* holder, void** data) {
  *data = nullptr;
  if (bytes == 0) return absl::OkStatus();
  TF_RETURN_IF_ERROR(ctx->allocate_temp(tensorflow::DT_INT8, TensorShape({static_cast<int64_t>(bytes)}), holder));
  *data = holder->data();
  return absl::OkStatus();
}

class SpatialDenseGpuOp : public SpatialDenseOpBase {
 public:
  using SpatialDenseOpBase::SpatialDenseOpBase;

  void Compute(OpKernelContext* ctx) override {
    SpatialDenseSpec spec;
    Tensor* y = nullptr;
    // Not in place: the CUDA kernels have not been checked with aliasing operands.
    if (!prepare_forward(ctx, &spec, &y, /*in_place=*/false)) return;
    const Tensor &x = ctx->input(0), &kernel = ctx->input(1), &bias = ctx->input(2);
    Tensor scratch;
    void* workspace = nullptr;
    OP_REQUIRES_OK(
        ctx, allocate_scratch(ctx, spatial_dense_forward_cuda_workspace(spec, dtype_of(x)), &scratch, &workspace));
    const std::string launch = spatial_dense_forward_cuda(spec, dtype_of(x), x.data(), kernel.data(), bias.data(),
                                                          y->data(), workspace, stream_of(ctx));
    OP_REQUIRES(ctx, launch.empty(), absl::InternalError(launch));
  }
};

class SpatialDenseGradGpuOp : public SpatialDenseOpBase {
 public:
  using SpatialDenseOpBase::SpatialDenseOpBase;

  void Compute(OpKernelContext* ctx) override {
    SpatialDenseSpec spec;
    Tensor *dx = nullptr, *dkernel = nullptr, *dbias = nullptr;
    if (!prepare_backward(ctx, &spec, &dx, &dkernel, &dbias, /*in_place=*/false)) return;
    const Tensor &dy = ctx->input(0), &x = ctx->input(1), &kernel = ctx->input(2), &bias = ctx->input(3);
    Tensor scratch;
    void* workspace = nullptr;
    OP_REQUIRES_OK(
        ctx, allocate_scratch(ctx, spatial_dense_backward_cuda_workspace(spec, dtype_of(x)), &scratch, &workspace));
    const std::string launch =
        spatial_dense_backward_cuda(spec, dtype_of(x), dy.data(), x.data(), kernel.data(), bias.data(), dx->data(),
                                    dkernel->data(), dbias->data(), workspace, stream_of(ctx));
    OP_REQUIRES(ctx, launch.empty(), absl::InternalError(launch));
  }
};

#define SPATIAL_OPS_REGISTER_GPU(T) \
  SPATIAL_OPS_REGISTER_KERNELS(tensorflow::DEVICE_GPU, SpatialDenseGpuOp, SpatialDenseGradGpuOp, T)
SPATIAL_OPS_FOR_EACH_TYPE(SPATIAL_OPS_REGISTER_GPU);
#undef SPATIAL_OPS_REGISTER_GPU

}  // namespace
}  // namespace tf_kernels
}  // namespace spatial_ops
