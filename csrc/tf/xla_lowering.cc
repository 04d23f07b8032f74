// Both ops inside XLA (tf.function(jit_compile=True)): each lowers to a
// typed-FFI custom call of the same kernels (csrc/xla_ffi), which XLA runs
// inside the compiled program on its own thread pool. Shapes and attributes
// are checked at compile time with the ops' own messages, and the attributes
// travel as the custom call's. The host handlers, and in a library built
// with CUDA for a CUDA TensorFlow (SPATIAL_OPS_XLA_GPU) the CUDA handlers,
// are registered with XLA's FFI registry when this library loads.
#include <cstring>
#include <string>
#include <vector>

#include "tensorflow/compiler/tf2xla/xla_op_kernel.h"
#include "tensorflow/compiler/tf2xla/xla_op_registry.h"
#include "xla/hlo/builder/xla_builder.h"
#include "xla/shape_util.h"

#include "tf/op_kernel_common.h"
#include "xla_ffi/spatial_dense_ffi.h"

// Exported by libtensorflow_cc; declared here because its header
// (xla/ffi/ffi_api.h) needs MLIR headers the TensorFlow wheel does not ship.
namespace xla::ffi {
const XLA_FFI_Api* GetXlaFfiApi();
}  // namespace xla::ffi

XLA_FFI_REGISTER_HANDLER(xla::ffi::GetXlaFfiApi(), spatial_ops::kForwardTarget, "Host", SpatialOpsSpatialDenseHost);
XLA_FFI_REGISTER_HANDLER(xla::ffi::GetXlaFfiApi(), spatial_ops::kBackwardTarget, "Host",
                         SpatialOpsSpatialDenseGradHost);
#if SPATIAL_OPS_XLA_GPU
XLA_FFI_REGISTER_HANDLER(xla::ffi::GetXlaFfiApi(), spatial_ops::kForwardTarget, "CUDA", SpatialOpsSpatialDenseCuda);
XLA_FFI_REGISTER_HANDLER(xla::ffi::GetXlaFfiApi(), spatial_ops::kBackwardTarget, "CUDA",
                         SpatialOpsSpatialDenseGradCuda);
#endif

namespace spatial_ops {
namespace tf_kernels {
namespace {

using ::tensorflow::XlaOpKernelContext;

// The custom call's attributes, as an MLIR dictionary (XLA's typed FFI reads
// them from the instruction's backend config).
std::string ffi_attributes(const SpecAttributes& attributes) {
  std::string bits;
  for (const double value : attributes.activation_params) {
    int64_t pattern;
    std::memcpy(&pattern, &value, sizeof pattern);
    bits += (bits.empty() ? ": " : ", ") + std::to_string(pattern);
  }
  return "{activation = \"" + attributes.activation + "\", activation_param_bits = array<i64" + bits +
         ">, reduction = \"" + attributes.reduction + "\", has_bias = " + (attributes.has_bias ? "true" : "false") +
         ", derivative_order = " + std::to_string(attributes.derivative_order) +
         " : i64, reduce_begin = " + std::to_string(attributes.reduce_begin) +
         " : i64, reduce_end = " + std::to_string(attributes.reduce_end) + " : i64}";
}

class SpatialDenseXlaBase : public tensorflow::XlaOpKernel {
 public:
  explicit SpatialDenseXlaBase(tensorflow::OpKernelConstruction* ctx) : XlaOpKernel(ctx) {
    const std::string error = spec_from_attrs(ctx, &spec_, &attributes_);
    OP_REQUIRES(ctx, error.empty(), absl::InvalidArgumentError(error));
  }

 protected:
  xla::XlaOp custom_call(XlaOpKernelContext* ctx, const char* target, const std::vector<xla::XlaOp>& operands,
                         const xla::Shape& shape) const {
    return xla::CustomCall(ctx->builder(), target, operands, shape, ffi_attributes(attributes_),
                           /*has_side_effect=*/false, /*output_operand_aliasing=*/{}, /*literal=*/nullptr,
                           xla::CustomCallSchedule::SCHEDULE_NONE, xla::CustomCallApiVersion::API_VERSION_TYPED_FFI);
  }

  SpatialDenseSpec spec_;
  SpecAttributes attributes_;
};

class SpatialDenseXlaOp : public SpatialDenseXlaBase {
 public:
  using SpatialDenseXlaBase::SpatialDenseXlaBase;

  void Compile(XlaOpKernelContext* ctx) override {
    SpatialDenseSpec spec = spec_;
    const Dims x = dims_of(ctx->InputShape(0));
    const std::string error = check_forward(x, dims_of(ctx->InputShape(1)), dims_of(ctx->InputShape(2)), &spec);
    OP_REQUIRES(ctx, error.empty(), absl::InvalidArgumentError(error));
    const xla::Shape y = xla::ShapeUtil::MakeShape(ctx->input_xla_type(0), spec.output_dims(x));
    ctx->SetOutput(0, custom_call(ctx, kForwardTarget, {ctx->Input(0), ctx->Input(1), ctx->Input(2)}, y));
  }
};

class SpatialDenseGradXlaOp : public SpatialDenseXlaBase {
 public:
  using SpatialDenseXlaBase::SpatialDenseXlaBase;

  void Compile(XlaOpKernelContext* ctx) override {
    SpatialDenseSpec spec = spec_;
    std::vector<Dims> dims;
    for (int i = 0; i < 4; ++i) dims.push_back(dims_of(ctx->InputShape(i)));
    const std::string error = check_backward(dims[0], dims[1], dims[2], dims[3], &spec);
    OP_REQUIRES(ctx, error.empty(), absl::InvalidArgumentError(error));
    const xla::PrimitiveType type = ctx->input_xla_type(1);
    const xla::Shape gradients = xla::ShapeUtil::MakeTupleShape({xla::ShapeUtil::MakeShape(type, dims[1]),
                                                                 xla::ShapeUtil::MakeShape(type, dims[2]),
                                                                 xla::ShapeUtil::MakeShape(type, dims[3])});
    const xla::XlaOp result =
        custom_call(ctx, kBackwardTarget, {ctx->Input(0), ctx->Input(1), ctx->Input(2), ctx->Input(3)}, gradients);
    for (int i = 0; i < 3; ++i) ctx->SetOutput(i, xla::GetTupleElement(result, i));
  }
};

// The lowering is the same on every device; the handler XLA runs is the
// platform's. The GPU JIT only where the CUDA handlers are in this library:
// elsewhere the Python wrapper keeps the composite under XLA on GPUs.
REGISTER_XLA_OP(Name("SpatialOps>SpatialDense").Device(tensorflow::DEVICE_CPU_XLA_JIT), SpatialDenseXlaOp);
REGISTER_XLA_OP(Name("SpatialOps>SpatialDenseGrad").Device(tensorflow::DEVICE_CPU_XLA_JIT), SpatialDenseGradXlaOp);
#if SPATIAL_OPS_XLA_GPU
REGISTER_XLA_OP(Name("SpatialOps>SpatialDense").Device(tensorflow::DEVICE_GPU_XLA_JIT), SpatialDenseXlaOp);
REGISTER_XLA_OP(Name("SpatialOps>SpatialDenseGrad").Device(tensorflow::DEVICE_GPU_XLA_JIT), SpatialDenseGradXlaOp);
#endif

bool has_cpu_jit_kernel(const char* op) {
  return tensorflow::KernelsRegisteredForOp(op).find(tensorflow::DEVICE_CPU_XLA_JIT) != std::string::npos;
}

}  // namespace
}  // namespace tf_kernels
}  // namespace spatial_ops

// Whether XLA compiles the ops through this lowering in this process. XLA
// turns its registrations into kernels once, at the first compilation in the
// process: a library loaded after that is left out (Identity has its JIT
// kernel, ours has none), and the Python wrapper keeps the composite.
extern "C" __attribute__((visibility("default"))) int spatial_ops_xla_lowering_registered() {
  using spatial_ops::tf_kernels::has_cpu_jit_kernel;
  return has_cpu_jit_kernel("SpatialOps>SpatialDense") || !has_cpu_jit_kernel("Identity");
}
