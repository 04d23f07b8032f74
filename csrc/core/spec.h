// What one call computes: the canonical 4-D view of x, the reduction, the
// activation, and the checks every binding runs before any kernel touches
// memory. Checks return a message naming the shapes ("" when valid) so each
// binding raises its own error type with the same text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/activation_table.h"
#include "core/portability.h"

namespace spatial_ops {

enum class Reduction { kNone, kSum, kMean };

// x (batch, d1, ..., dk) -> [batch, outer, reduced, inner], weights
// (d1, ..., dk) -> [outer, reduced, inner]: reduced is the product of the
// reduced run of axes, outer of those before it, inner of those after.
struct CanonicalShape {
  int64_t batch = 0, outer = 0, reduced = 0, inner = 0;
  SO_HD int64_t spatial_size() const { return outer * reduced * inner; }
};

struct SpatialDenseSpec {
  CanonicalShape shape;
  Reduction reduction = Reduction::kNone;
  // x's axes [reduce_begin, reduce_end) are reduced (ignored without a
  // reduction). The defaults make a 4-D x [B, A, R, C] reduce R.
  int64_t reduce_begin = 2, reduce_end = 3;
  bool has_bias = true;
  Activation activation = Activation::kLinear;
  ActivationParams params;
  // 0: the activation itself; 1: its derivative in its place (the backward
  // then uses the second derivative). Second-order gradients use order 1.
  int derivative_order = 0;

  bool reduces() const { return reduction != Reduction::kNone; }
  // Elements of y: [B, A, C] when R is reduced, else [B, A, R, C].
  int64_t output_size() const { return shape.batch * shape.outer * (reduces() ? 1 : shape.reduced) * shape.inner; }
  // y's dimensions for an x of these: x's without the reduced axes.
  std::vector<int64_t> output_dims(const std::vector<int64_t>& x) const;
};

using Dims = std::vector<int64_t>;

std::string dims_to_string(const Dims& dims);

// The ops' attributes as every front-end receives them (TensorFlow op
// attributes, pybind11 arguments), parsed by one function.
struct SpecAttributes {
  std::string activation = "linear";
  std::vector<double> activation_params;
  std::string reduction = "none";  // "none", "sum" or "mean"
  bool has_bias = true;
  int64_t derivative_order = 0;
  int64_t reduce_begin = 2, reduce_end = 3;
};
// Checks the attributes and fills spec with everything but its shape.
std::string parse_attributes(const SpecAttributes& attributes, SpatialDenseSpec* spec);
// Checks the reduced run of axes [begin, end) of an x of this rank; x_text
// names x (its shape as the caller can print it) in the message, and is
// called only for one: every op call passes through here.
std::string check_reduced_axes(int64_t begin, int64_t end, int64_t rank, const std::function<std::string()>& x_text);

// Checks the forward operands: x (batch, d1, ..., dk) with k >= 1, kernel and
// bias (d1, ..., dk) (bias [0] without one), sizes that fit int64, and the
// reduced axes; fills spec->shape.
std::string check_forward(const Dims& x, const Dims& kernel, const Dims& bias, SpatialDenseSpec* spec);
// The same plus dy, which must have the forward output's shape.
std::string check_backward(const Dims& dy, const Dims& x, const Dims& kernel, const Dims& bias, SpatialDenseSpec* spec);

}  // namespace spatial_ops
