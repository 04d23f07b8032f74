// What one call computes: the canonical 4-D shape, the reduction, the
// activation, and the checks every binding runs before any kernel touches
// memory. Checks return a message naming the shapes ("" when valid) so each
// binding raises its own error type with the same text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "activation_table.h"
#include "portability.h"

namespace spatial_ops {

enum class Reduction { kNone, kSum, kMean };

// x -> [batch, outer, reduced, inner]; weights -> [outer, reduced, inner].
struct CanonicalShape {
  int64_t batch = 0, outer = 0, reduced = 0, inner = 0;
  SO_HD int64_t spatial_size() const { return outer * reduced * inner; }
};

struct SpatialDenseSpec {
  CanonicalShape shape;
  Reduction reduction = Reduction::kNone;
  bool has_bias = true;
  Activation activation = Activation::kLinear;
  ActivationParams params;
  // 0: the activation itself; 1: its derivative in its place (the backward
  // then uses the second derivative). Second-order gradients use order 1.
  int derivative_order = 0;

  bool reduces() const { return reduction != Reduction::kNone; }
  // Elements of y: [B, A, C] when R is reduced, else [B, A, R, C].
  int64_t output_size() const {
    return shape.batch * shape.outer * (reduces() ? 1 : shape.reduced) * shape.inner;
  }
  std::vector<int64_t> output_dims() const;
};

using Dims = std::vector<int64_t>;

std::string dims_to_string(const Dims& dims);

// Parses the string attributes shared by both bindings.
std::string parse_reduction(const std::string& name, Reduction* reduction);
std::string parse_activation(const std::string& name, const std::vector<double>& params,
                             Activation* activation, ActivationParams* parsed);
std::string check_derivative_order(int64_t order);

// Checks the forward operands: x [B, A, R, C], kernel [A, R, C], bias
// [A, R, C] (or [0] without bias), sizes that fit int64; fills spec->shape.
std::string check_forward(const Dims& x, const Dims& kernel, const Dims& bias,
                          SpatialDenseSpec* spec);
// The same plus dy, which must have the forward output's shape.
std::string check_backward(const Dims& dy, const Dims& x, const Dims& kernel,
                           const Dims& bias, SpatialDenseSpec* spec);

}  // namespace spatial_ops
