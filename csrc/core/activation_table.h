// The activation table as the bindings see it: names, parameter counts and
// the enum. The math of each row is in activations.h.
#pragma once

#include <string>

namespace spatial_ops {

// Up to three numeric parameters per activation (slope, alpha, threshold, ...).
// The bindings carry them as double; kernels read them in the compute type.
struct ActivationParams {
  double values[3] = {0.0, 0.0, 0.0};
};

// The table: (struct, name the bindings use, number of parameters).
#define SPATIAL_OPS_ACTIVATIONS(X)      \
  X(Linear, "linear", 0)                \
  X(Relu, "relu", 0)                    \
  X(ReluGeneral, "relu_general", 3)     \
  X(Relu6, "relu6", 0)                  \
  X(LeakyRelu, "leaky_relu", 1)         \
  X(Elu, "elu", 1)                      \
  X(Celu, "celu", 1)                    \
  X(Selu, "selu", 0)                    \
  X(Gelu, "gelu", 0)                    \
  X(GeluTanh, "gelu_tanh", 0)           \
  X(Sigmoid, "sigmoid", 0)              \
  X(HardSigmoid, "hard_sigmoid", 0)     \
  X(LogSigmoid, "log_sigmoid", 0)       \
  X(SparseSigmoid, "sparse_sigmoid", 0) \
  X(Tanh, "tanh", 0)                    \
  X(HardTanh, "hard_tanh", 0)           \
  X(TanhShrink, "tanh_shrink", 0)       \
  X(HardShrink, "hard_shrink", 1)       \
  X(SoftShrink, "soft_shrink", 1)       \
  X(Softplus, "softplus", 0)            \
  X(SparsePlus, "sparse_plus", 0)       \
  X(Squareplus, "squareplus", 1)        \
  X(Softsign, "softsign", 0)            \
  X(Silu, "silu", 0)                    \
  X(HardSilu, "hard_silu", 0)           \
  X(Mish, "mish", 0)                    \
  X(Exponential, "exponential", 0)      \
  X(Threshold, "threshold", 2)

enum class Activation {
#define SO_ENUM(cls, name, nparams) k##cls,
  SPATIAL_OPS_ACTIVATIONS(SO_ENUM)
#undef SO_ENUM
};

// Name lookup for the bindings; false for an unknown name.
bool activation_from_name(const std::string& name, Activation* activation);
int activation_num_params(Activation activation);
std::string activation_names();  // comma-separated, for error messages

}  // namespace spatial_ops
