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
  const at::Tensor x_c = x.contiguous(), kernel_c = kernel.contiguous(), bias_c = bias.contiguous();
  at::Tensor y = at::empty(call.spec.output_dims(dims_of(x)), x.options());
  const at::Tensor workspace = scratch(spatial_dense_forward_cuda_workspace(call.spec, call.dtype), x);
  require_launched(spatial_dense_forward_cuda(call.spec, call.dtype, x_c.data_ptr(), kernel_c.data_ptr(),
                                              bias_c.data_ptr(), y.data_ptr(), workspace.data_ptr(),
                                              c10::cuda::getCurrentCUDAStream(x.device().index()).stream()));
  return y;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_cuda(SPATIAL_OPS_TORCH_BACKWARD_ARGS) {
  const CheckedCall call = check_backward_call(SPATIAL_OPS_TORCH_ATTRIBUTES, dy, x, kernel, bias);
  const c10::cuda::CUDAGuard device(x.device());
  const at::Tensor dy_c = dy.contiguous(), x_c = x.contiguous(), kernel_c = kernel.contiguous(),
                   bias_c = bias.contiguous();
  at::Tensor dx = at::empty_like(x_c), dkernel = at::empty_like(kernel_c), dbias = at::empty_like(bias_c);
  const at::Tensor workspace = scratch(spatial_dense_backward_cuda_workspace(call.spec, call.dtype), x);
  require_launched(spatial_dense_backward_cuda(call.spec, call.dtype, dy_c.data_ptr(), x_c.data_ptr(),
                                               kernel_c.data_ptr(), bias_c.data_ptr(), dx.data_ptr(),
                                               dkernel.data_ptr(), dbias.data_ptr(), workspace.data_ptr(),
                                               c10::cuda::getCurrentCUDAStream(x.device().index()).stream()));
  return {dx, dkernel, dbias};
}

}  // namespace
}  // namespace torch_ops
}  // namespace spatial_ops

TORCH_LIBRARY_IMPL(spatial_ops, CUDA, m) {
  m.impl("spatial_dense", &spatial_ops::torch_ops::forward_cuda);
  m.impl("spatial_dense_grad", &spatial_ops::torch_ops::backward_cuda);
}
