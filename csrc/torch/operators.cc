// The PyTorch operators spatial_ops::spatial_dense and
// spatial_ops::spatial_dense_grad: their schemas, the CPU implementations
// (the kernels on PyTorch's intra-op pool), the Meta ones (shapes only, with
// symbolic sizes, for torch.compile and torch.export) and the forward's
// autograd formula, whose backward is the grad operator. The grad operator's
// own gradient (second order) is composed in Python from these operators
// (spatial_ops/torch/ops.py). The CUDA implementations are in
// cuda_operators.cc.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <string>
#include <tuple>

#include "cpu/parallel.h"
#include "cpu/spatial_dense_cpu.h"
#include "torch/checked_call.h"

#define SPATIAL_OPS_STRINGIFY_(x) #x
#define SPATIAL_OPS_STRINGIFY(x) SPATIAL_OPS_STRINGIFY_(x)

// The PyTorch release and C++ ABI this library is compiled against, as text
// the loader (spatial_ops/torch/_loader.py) reads from the file before
// loading it. Keep the format in step with it.
extern "C" __attribute__((used, visibility("default"))) const char spatial_ops_torch_build_stamp[] =
    "spatial_ops-build-stamp:torch=" SPATIAL_OPS_STRINGIFY(SPATIAL_OPS_TORCH_VERSION)
    ";cxx11_abi=" SPATIAL_OPS_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
    ";cuda=" SPATIAL_OPS_STRINGIFY(SPATIAL_OPS_TORCH_CUDA) ";";

namespace spatial_ops {
namespace torch_ops {
namespace {

// The kernels' loops on PyTorch's intra-op threads: parallel_pieces decides
// how many pieces a loop is worth (small ones stay on the caller), and
// at::parallel_for hands runs of them to its threads.
void on_intra_op_pool(int64_t total, int64_t cost_per_unit, const WorkFn& work) {
  const int64_t pieces = parallel_pieces(total, cost_per_unit, at::get_num_threads());
  if (pieces <= 1) return run_serially(total, cost_per_unit, work);
  at::parallel_for(0, pieces, 1,
                   [&](int64_t begin, int64_t end) { work(begin * total / pieces, end * total / pieces); });
}

at::Tensor forward_cpu(SPATIAL_OPS_TORCH_FORWARD_ARGS) {
  const CheckedCall call = check_forward_call(SPATIAL_OPS_TORCH_ATTRIBUTES, x, kernel, bias);
  const ForwardTensors t = forward_tensors(call, x, kernel, bias);
  spatial_dense_forward_cpu(call.spec, call.dtype, t.x.data_ptr(), t.kernel.data_ptr(), t.bias.data_ptr(),
                            t.y.data_ptr(), on_intra_op_pool);
  return t.y;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_cpu(SPATIAL_OPS_TORCH_BACKWARD_ARGS) {
  const CheckedCall call = check_backward_call(SPATIAL_OPS_TORCH_ATTRIBUTES, dy, x, kernel, bias);
  const BackwardTensors t = backward_tensors(dy, x, kernel, bias);
  spatial_dense_backward_cpu(call.spec, call.dtype, t.dy.data_ptr(), t.x.data_ptr(), t.kernel.data_ptr(),
                             t.bias.data_ptr(), t.dx.data_ptr(), t.dkernel.data_ptr(), t.dbias.data_ptr(),
                             on_intra_op_pool);
  return {t.dx, t.dkernel, t.dbias};
}

// Shapes only, in sizes that may be symbolic: x's without the reduced run.
at::Tensor forward_meta(SPATIAL_OPS_TORCH_FORWARD_ARGS) {
  common_dtype({{"x", &x}, {"kernel", &kernel}, {"bias", &bias}});
  const c10::SymIntArrayRef x_sizes = x.sym_sizes();
  std::vector<c10::SymInt> sizes(x_sizes.begin(), x_sizes.end());
  if (reduction != "none") {
    const std::string error = check_reduced_axes(reduce_begin, reduce_end, static_cast<int64_t>(sizes.size()),
                                                 [&] { return c10::str(x.sym_sizes()); });
    TORCH_CHECK_VALUE(error.empty(), error);
    sizes.erase(sizes.begin() + reduce_begin, sizes.begin() + reduce_end);
  }
  return at::empty_symint(sizes, x.options());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_meta(SPATIAL_OPS_TORCH_BACKWARD_ARGS) {
  common_dtype({{"x", &x}, {"dy", &dy}, {"kernel", &kernel}, {"bias", &bias}});
  return {at::empty_like(x), at::empty_like(kernel), at::empty_like(bias)};
}

at::Tensor forward_op(SPATIAL_OPS_TORCH_FORWARD_ARGS) {
  static const auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("spatial_ops::spatial_dense", "").typed<decltype(forward_cpu)>();
  return op.call(x, kernel, bias, activation, activation_params, reduction, has_bias, derivative_order, reduce_begin,
                 reduce_end);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> backward_op(SPATIAL_OPS_TORCH_BACKWARD_ARGS) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("spatial_ops::spatial_dense_grad", "")
                             .typed<decltype(backward_cpu)>();
  return op.call(dy, x, kernel, bias, activation, activation_params, reduction, has_bias, derivative_order,
                 reduce_begin, reduce_end);
}

// y's gradient is the grad operator, itself differentiable through its own
// autograd formula (registered from Python), so second order composes.
class SpatialDenseFunction : public torch::autograd::Function<SpatialDenseFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, SPATIAL_OPS_TORCH_FORWARD_ARGS) {
    ctx->save_for_backward({x, kernel, bias});
    ctx->saved_data["activation"] = std::string(activation);
    ctx->saved_data["activation_params"] = activation_params.vec();
    ctx->saved_data["reduction"] = std::string(reduction);
    ctx->saved_data["has_bias"] = has_bias;
    ctx->saved_data["derivative_order"] = derivative_order;
    ctx->saved_data["reduce_begin"] = reduce_begin;
    ctx->saved_data["reduce_end"] = reduce_end;
    const at::AutoDispatchBelowADInplaceOrView below_autograd;
    return forward_op(x, kernel, bias, activation, activation_params, reduction, has_bias, derivative_order,
                      reduce_begin, reduce_end);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& data = ctx->saved_data;
    const std::vector<double> params = data.at("activation_params").toDoubleVector();
    const bool has_bias = data.at("has_bias").toBool();
    auto [dx, dkernel, dbias] =
        backward_op(grads[0], saved[0], saved[1], saved[2], data.at("activation").toStringRef(), params,
                    data.at("reduction").toStringRef(), has_bias, data.at("derivative_order").toInt(),
                    data.at("reduce_begin").toInt(), data.at("reduce_end").toInt());
    const at::Tensor none;
    return {dx, dkernel, has_bias ? dbias : none, none, none, none, none, none, none, none};
  }
};

// Without a gradient to record (no_grad, or no operand that requires one),
// the call goes straight to the kernels: no autograd node, nothing saved.
at::Tensor forward_autograd(SPATIAL_OPS_TORCH_FORWARD_ARGS) {
  if (!at::GradMode::is_enabled() || !(x.requires_grad() || kernel.requires_grad() || bias.requires_grad())) {
    const at::AutoDispatchBelowADInplaceOrView below_autograd;
    return forward_op(x, kernel, bias, activation, activation_params, reduction, has_bias, derivative_order,
                      reduce_begin, reduce_end);
  }
  return SpatialDenseFunction::apply(x, kernel, bias, activation, activation_params, reduction, has_bias,
                                     derivative_order, reduce_begin, reduce_end);
}

}  // namespace
}  // namespace torch_ops
}  // namespace spatial_ops

// The schemas of the operators the pure-Python front-end defined before,
// unchanged, so traced and exported graphs keep working.
TORCH_LIBRARY(spatial_ops, m) {
  m.def(
      "spatial_dense(Tensor x, Tensor kernel, Tensor bias, str activation, float[] activation_params, "
      "str reduction, bool has_bias, int derivative_order, int reduce_begin, int reduce_end) -> Tensor");
  m.def(
      "spatial_dense_grad(Tensor dy, Tensor x, Tensor kernel, Tensor bias, str activation, "
      "float[] activation_params, str reduction, bool has_bias, int derivative_order, int reduce_begin, "
      "int reduce_end) -> (Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(spatial_ops, CPU, m) {
  m.impl("spatial_dense", &spatial_ops::torch_ops::forward_cpu);
  m.impl("spatial_dense_grad", &spatial_ops::torch_ops::backward_cpu);
}

TORCH_LIBRARY_IMPL(spatial_ops, Meta, m) {
  m.impl("spatial_dense", &spatial_ops::torch_ops::forward_meta);
  m.impl("spatial_dense_grad", &spatial_ops::torch_ops::backward_meta);
}

TORCH_LIBRARY_IMPL(spatial_ops, Autograd, m) { m.impl("spatial_dense", &spatial_ops::torch_ops::forward_autograd); }
