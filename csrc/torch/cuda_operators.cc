// The CUDA implementations of the PyTorch operators (schemas in
// operators.cc): the kernels on the device of x, on PyTorch's current stream
// there, with scratch from PyTorch's caching allocator (stream-ordered: it
// is freed back to the cache on the same stream after the launch).
#include <ATen/ATen.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <string>
#include <tuple>

#include "cuda/spatial_dense_cuda.h"
#include "torch/checked_call.h"

namespace spatial_ops {
namespace torch_ops {
namespace {

at::Tensor scratch(size_t bytes, const at::Tensor& like) {
  return at::empty({static_cast<int64_t>(bytes)}, like.options().dtype(at::kByte));
}

void require_launched(const std::string& error) { TORCH_CHECK(error.empty(), "spatial_ops CUDA kernels: ", error); }

at::Tensor forward_cuda(SPATIAL_OPS_TORCH_FORWARD_ARGS) {
  const CheckedCall call = check_forward_call(SPATIAL_OPS_TORCH_ATTRIBUTES, x, kernel, bias);
  const c10::cuda::CUDAGuard device(x.device());
  const ForwardTensors t = forward_tensors(call, x, kernel, bias);
  const at::Tensor workspace = scratch(spatial_dense_forward_cuda_workspace(call.spec, call.dtype), x);
  require_launched(spatial_dense_forward_cuda(call.spec, call.dtype, t.x.data_ptr(), t.kernel.data_ptr(),
                                              t.bias.data_ptr(), t.y.data_ptr(), workspace.data_ptr(),
                                              c10::cuda::getCurrentCUDAStream(x.device().index()).stream()));
  return t.y;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_cuda(SPATIAL_OPS_TORCH_BACKWARD_ARGS) {
  const CheckedCall call = check_backward_call(SPATIAL_OPS_TORCH_ATTRIBUTES, dy, x, kernel, bias);
  const c10::cuda::CUDAGuard device(x.device());
  const BackwardTensors t = backward_tensors(dy, x, kernel, bias);
  const at::Tensor workspace = scratch(spatial_dense_backward_cuda_workspace(call.spec, call.dtype), x);
  require_launched(spatial_dense_backward_cuda(call.spec, call.dtype, t.dy.data_ptr(), t.x.data_ptr(),
                                               t.kernel.data_ptr(), t.bias.data_ptr(), t.dx.data_ptr(),
                                               t.dkernel.data_ptr(), t.dbias.data_ptr(), workspace.data_ptr(),
                                               c10::cuda::getCurrentCUDAStream(x.device().index()).stream()));
  return {t.dx, t.dkernel, t.dbias};
}

}  // namespace
}  // namespace torch_ops
}  // namespace spatial_ops

TORCH_LIBRARY_IMPL(spatial_ops, CUDA, m) {
  m.impl("spatial_dense", &spatial_ops::torch_ops::forward_cuda);
  m.impl("spatial_dense_grad", &spatial_ops::torch_ops::backward_cuda);
}
