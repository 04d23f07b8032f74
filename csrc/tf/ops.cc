// Op registrations and shape functions. The Python wrapper (spatial_ops/ops.py)
// reshapes any input to the canonical 4-D view first, so the ops see only
// x [B, A, R, C] and weights [A, R, C].
#include <string>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace spatial_ops {
namespace {

using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

// Merges x's last three dims with the weights' shapes; returns them in *spatial.
absl::Status spatial_shape(InferenceContext* c, int x_index, ShapeHandle* x, ShapeHandle* spatial) {
  ShapeHandle kernel, bias;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(x_index), 4, x));
  TF_RETURN_IF_ERROR(c->WithRank(c->input(x_index + 1), 3, &kernel));
  TF_RETURN_IF_ERROR(c->Subshape(*x, 1, spatial));
  TF_RETURN_IF_ERROR(c->Merge(*spatial, kernel, spatial));
  bool has_bias = true;
  TF_RETURN_IF_ERROR(c->GetAttr("has_bias", &has_bias));
  if (has_bias) {
    TF_RETURN_IF_ERROR(c->WithRank(c->input(x_index + 2), 3, &bias));
    return c->Merge(*spatial, bias, spatial);
  }
  DimensionHandle empty;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(x_index + 2), 1, &bias));
  return c->WithValue(c->Dim(bias, 0), 0, &empty);
}

absl::Status forward_shape(InferenceContext* c) {
  ShapeHandle x, spatial;
  TF_RETURN_IF_ERROR(spatial_shape(c, 0, &x, &spatial));
  std::string reduction;
  TF_RETURN_IF_ERROR(c->GetAttr("reduction", &reduction));
  const DimensionHandle batch = c->Dim(x, 0);
  if (reduction == "none") {
    c->set_output(0, c->MakeShape({batch, c->Dim(spatial, 0), c->Dim(spatial, 1), c->Dim(spatial, 2)}));
  } else {
    c->set_output(0, c->MakeShape({batch, c->Dim(spatial, 0), c->Dim(spatial, 2)}));
  }
  return absl::OkStatus();
}

absl::Status backward_shape(InferenceContext* c) {
  ShapeHandle x, spatial;
  TF_RETURN_IF_ERROR(spatial_shape(c, 1, &x, &spatial));
  c->set_output(0, x);
  c->set_output(1, c->input(2));
  c->set_output(2, c->input(3));
  return absl::OkStatus();
}

}  // namespace

#define SPATIAL_OPS_COMMON_ATTRS                                  \
  Attr("T: {half, bfloat16, float, double}")                      \
      .Attr("activation: string = 'linear'")                      \
      .Attr("activation_params: list(string) = []")               \
      .Attr("reduction: {'none', 'sum', 'mean'} = 'none'")        \
      .Attr("has_bias: bool = true")                              \
      .Attr("derivative_order: int = 0")

REGISTER_OP("SpatialOps>SpatialDense")
    .Input("x: T")
    .Input("kernel: T")
    .Input("bias: T")
    .Output("y: T")
    .SPATIAL_OPS_COMMON_ATTRS
    .SetShapeFn(forward_shape)
    .Doc(R"doc(
y = reduce(activation(x * kernel + bias)) on the canonical view.

x: [batch, outer, reduced, inner].
kernel: [outer, reduced, inner].
bias: [outer, reduced, inner], or [0] when has_bias is false.
y: [batch, outer, inner] when reduction is 'sum' or 'mean', else x's shape.
activation_params: the activation's parameters, as decimal strings so that
  float64 values pass exactly.
derivative_order: 1 puts the activation's derivative in its place (for
  second-order gradients); 0 or 1.
)doc");

REGISTER_OP("SpatialOps>SpatialDenseGrad")
    .Input("dy: T")
    .Input("x: T")
    .Input("kernel: T")
    .Input("bias: T")
    .Output("dx: T")
    .Output("dkernel: T")
    .Output("dbias: T")
    .SPATIAL_OPS_COMMON_ATTRS
    .SetShapeFn(backward_shape)
    .Doc(R"doc(
Gradients of SpatialDense with respect to x, kernel and bias, in one pass that
recomputes z. dbias is [0] when has_bias is false.
)doc");

}  // namespace spatial_ops
