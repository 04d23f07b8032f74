// Op registrations and shape functions. The ops take x (batch, d1, ..., dk)
// and weights (d1, ..., dk) as they are, with the reduced run of axes as
// attributes; core/spec.h turns them into the canonical 4-D view, so the
// Python wrapper adds no reshape ops (each one costs an eager dispatch and a
// recorded gradient).
#include <string>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

#include "core/spec.h"

namespace spatial_ops {
namespace {

using ::tensorflow::shape_inference::DimensionHandle;
using ::tensorflow::shape_inference::InferenceContext;
using ::tensorflow::shape_inference::ShapeHandle;

// Merges x (batch, d1, ..., dk) with the weights (d1, ..., dk); returns x.
absl::Status operand_shapes(InferenceContext* c, int x_index, ShapeHandle* x) {
  ShapeHandle spatial, bias;
  TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(x_index), 2, x));
  TF_RETURN_IF_ERROR(c->WithRankAtLeast(c->input(x_index + 1), 1, &spatial));
  if (c->RankKnown(*x)) {
    ShapeHandle x_spatial;
    TF_RETURN_IF_ERROR(c->Subshape(*x, 1, &x_spatial));
    TF_RETURN_IF_ERROR(c->Merge(x_spatial, spatial, &spatial));
  }
  bool has_bias = true;
  TF_RETURN_IF_ERROR(c->GetAttr("has_bias", &has_bias));
  if (has_bias) {
    TF_RETURN_IF_ERROR(c->Merge(c->input(x_index + 2), spatial, &spatial));
  } else {
    DimensionHandle empty;
    TF_RETURN_IF_ERROR(c->WithRank(c->input(x_index + 2), 1, &bias));
    TF_RETURN_IF_ERROR(c->WithValue(c->Dim(bias, 0), 0, &empty));
  }
  return c->Concatenate(c->Vector(c->Dim(*x, 0)), spatial, x);
}

// y: x without the axes [reduce_begin, reduce_end) when reduced, else x.
absl::Status output_shape(InferenceContext* c, ShapeHandle x, ShapeHandle* y) {
  std::string reduction;
  TF_RETURN_IF_ERROR(c->GetAttr("reduction", &reduction));
  *y = x;
  if (reduction == "none") return absl::OkStatus();
  if (!c->RankKnown(x)) {
    *y = c->UnknownShape();
    return absl::OkStatus();
  }
  int64_t begin = 0, end = 0;
  TF_RETURN_IF_ERROR(c->GetAttr("reduce_begin", &begin));
  TF_RETURN_IF_ERROR(c->GetAttr("reduce_end", &end));
  const std::string error = check_reduced_axes(begin, end, c->Rank(x), [&] { return c->DebugString(x); });
  if (!error.empty()) return absl::InvalidArgumentError(error);
  ShapeHandle before, after;
  TF_RETURN_IF_ERROR(c->Subshape(x, 0, begin, &before));
  TF_RETURN_IF_ERROR(c->Subshape(x, end, &after));
  return c->Concatenate(before, after, y);
}

absl::Status forward_shape(InferenceContext* c) {
  ShapeHandle x, y;
  TF_RETURN_IF_ERROR(operand_shapes(c, 0, &x));
  TF_RETURN_IF_ERROR(output_shape(c, x, &y));
  c->set_output(0, y);
  return absl::OkStatus();
}

absl::Status backward_shape(InferenceContext* c) {
  ShapeHandle x, y, dy;
  TF_RETURN_IF_ERROR(operand_shapes(c, 1, &x));
  TF_RETURN_IF_ERROR(output_shape(c, x, &y));
  TF_RETURN_IF_ERROR(c->Merge(c->input(0), y, &dy));
  ShapeHandle spatial;
  TF_RETURN_IF_ERROR(c->Subshape(x, 1, &spatial));
  c->set_output(0, x);
  c->set_output(1, spatial);
  c->set_output(2, c->input(3));
  return absl::OkStatus();
}

}  // namespace

#define SPATIAL_OPS_COMMON_ATTRS                           \
  Attr("T: {half, bfloat16, float, double}")               \
      .Attr("activation: string = 'linear'")               \
      .Attr("activation_params: list(string) = []")        \
      .Attr("reduction: {'none', 'sum', 'mean'} = 'none'") \
      .Attr("has_bias: bool = true")                       \
      .Attr("derivative_order: int = 0")                   \
      .Attr("reduce_begin: int = 2")                       \
      .Attr("reduce_end: int = 3")

REGISTER_OP("SpatialOps>SpatialDense")
    .Input("x: T")
    .Input("kernel: T")
    .Input("bias: T")
    .Output("y: T")
    .SPATIAL_OPS_COMMON_ATTRS.SetShapeFn(forward_shape)
    .Doc(R"doc(
y = reduce(activation(x * kernel + bias)).

x: (batch, d1, ..., dk), k >= 1.
kernel: (d1, ..., dk).
bias: (d1, ..., dk), or [0] when has_bias is false.
y: x's shape without the axes [reduce_begin, reduce_end) when reduction is
  'sum' or 'mean', else x's shape.
reduce_begin, reduce_end: the contiguous run of x's axes reduced, with
  1 <= reduce_begin < reduce_end <= rank; ignored when reduction is 'none'.
  The defaults reduce axis 2.
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
    .SPATIAL_OPS_COMMON_ATTRS.SetShapeFn(backward_shape)
    .Doc(R"doc(
Gradients of SpatialDense with respect to x, kernel and bias, in one pass that
recomputes z. dbias is [0] when has_bias is false.
)doc");

}  // namespace spatial_ops
