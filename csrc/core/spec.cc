#include "core/spec.h"

#include <algorithm>
#include <cmath>

namespace spatial_ops {

std::vector<int64_t> SpatialDenseSpec::output_dims(const std::vector<int64_t>& x) const {
  if (!reduces()) return x;
  std::vector<int64_t> y(x.begin(), x.begin() + reduce_begin);
  y.insert(y.end(), x.begin() + reduce_end, x.end());
  return y;
}

// Messages are built with std::to_string, not iostreams: no locale is
// consulted, and a _core linked against a static libstdc++ (seen with GCC 13
// on the GPU machines) crashed in ostream's number formatting.
std::string dims_to_string(const Dims& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

namespace {

std::string parse_reduction(const std::string& name, Reduction* reduction) {
  if (name == "none")
    *reduction = Reduction::kNone;
  else if (name == "sum")
    *reduction = Reduction::kSum;
  else if (name == "mean")
    *reduction = Reduction::kMean;
  else
    return "reduction must be one of 'none', 'sum', 'mean', got '" + name + "'";
  return "";
}

std::string parse_activation(const std::string& name, const std::vector<double>& params, Activation* activation,
                             ActivationParams* parsed) {
  if (!activation_from_name(name, activation)) {
    return "unknown activation '" + name + "'; fused activations are: " + activation_names();
  }
  const int expected = activation_num_params(*activation);
  if (static_cast<int>(params.size()) != expected) {
    return "activation '" + name + "' takes " + std::to_string(expected) + " parameter(s), got " +
           std::to_string(params.size());
  }
  for (int i = 0; i < expected; ++i) {
    if (std::isnan(params[i])) return "activation '" + name + "' got a NaN parameter";
    parsed->values[i] = params[i];
  }
  return "";
}

std::string check_derivative_order(int64_t order) {
  if (order == 0 || order == 1) return "";
  return "derivative_order must be 0 or 1, got " + std::to_string(order);
}

// Product of dims, or -1 when a dim is negative or the product of the
// nonzero dims overflows: then no partial product the kernels form (such as
// outer * reduced of an empty tensor) can overflow either.
int64_t checked_product(const Dims& dims) {
  int64_t nonzero_product = 1;
  bool empty = false;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(nonzero_product, d == 0 ? 1 : d, &nonzero_product)) return -1;
    empty |= d == 0;
  }
  return empty ? 0 : nonzero_product;
}

// The product of dims[begin, end): no overflow once checked_product(x) >= 0.
int64_t product(const Dims& dims, size_t begin, size_t end) {
  int64_t result = 1;
  for (size_t i = begin; i < end; ++i) result *= dims[i];
  return result;
}

bool weights_match(const Dims& weights, const Dims& x) {
  return weights.size() + 1 == x.size() && std::equal(weights.begin(), weights.end(), x.begin() + 1);
}

}  // namespace

std::string parse_attributes(const SpecAttributes& attributes, SpatialDenseSpec* spec) {
  spec->has_bias = attributes.has_bias;
  spec->reduce_begin = attributes.reduce_begin;
  spec->reduce_end = attributes.reduce_end;
  spec->derivative_order = static_cast<int>(attributes.derivative_order);
  std::string error = parse_reduction(attributes.reduction, &spec->reduction);
  if (error.empty()) {
    error = parse_activation(attributes.activation, attributes.activation_params, &spec->activation, &spec->params);
  }
  if (error.empty()) error = check_derivative_order(attributes.derivative_order);
  return error;
}

std::string check_forward(const Dims& x, const Dims& kernel, const Dims& bias, SpatialDenseSpec* spec) {
  // Formatted only for a message: every op call passes through here.
  const auto shapes = [&] {
    return "x " + dims_to_string(x) + ", kernel " + dims_to_string(kernel) + ", bias " + dims_to_string(bias);
  };
  if (x.size() < 2) {
    return "x must have rank >= 2, (batch, d1, ..., dk), got " + shapes();
  }
  if (checked_product(x) < 0) return "x has a negative dimension or too many elements: " + shapes();
  if (!weights_match(kernel, x)) {
    return "kernel must be (d1, ..., dk), x's dimensions after the batch, got " + shapes();
  }
  if (spec->has_bias ? !weights_match(bias, x) : !(bias.size() == 1 && bias[0] == 0)) {
    return spec->has_bias ? "bias must be (d1, ..., dk), x's dimensions after the batch, got " + shapes()
                          : "bias must be [0] when has_bias is false, got " + shapes();
  }
  const int64_t rank = static_cast<int64_t>(x.size());
  if (!spec->reduces()) {
    spec->shape = CanonicalShape{x[0], 1, 1, product(x, 1, x.size())};
    return "";
  }
  const int64_t begin = spec->reduce_begin, end = spec->reduce_end;
  const std::string error = check_reduced_axes(begin, end, rank, [&] { return dims_to_string(x); });
  if (!error.empty()) return error;
  spec->shape = CanonicalShape{x[0], product(x, 1, begin), product(x, begin, end), product(x, end, x.size())};
  return "";
}

std::string check_reduced_axes(int64_t begin, int64_t end, int64_t rank, const std::function<std::string()>& x_text) {
  if (1 <= begin && begin < end && end <= rank) return "";
  return "the reduced axes [reduce_begin, reduce_end) = [" + std::to_string(begin) + ", " + std::to_string(end) +
         ") must satisfy 1 <= reduce_begin < reduce_end <= rank " + std::to_string(rank) + " of x " + x_text();
}

std::string check_backward(const Dims& dy, const Dims& x, const Dims& kernel, const Dims& bias,
                           SpatialDenseSpec* spec) {
  std::string error = check_forward(x, kernel, bias, spec);
  if (!error.empty()) return error;
  const Dims y = spec->output_dims(x);
  if (dy != y) {
    return "dy must have the forward output's shape " + dims_to_string(y) + ", got dy " + dims_to_string(dy) +
           " for x " + dims_to_string(x);
  }
  return "";
}

}  // namespace spatial_ops
