// spatial_ops._core: the kernels on NumPy arrays, no TensorFlow needed. Every
// argument becomes an ArrayArg (data pointer, dtype, dims) before anything is
// dispatched, which is the seam where device arrays will plug in.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "../kernels/cpu.h"
#include "../kernels/simd_math.h"

namespace py = pybind11;

namespace spatial_ops {
namespace {

struct ArrayArg {
  py::array array;  // keeps the (contiguous) buffer alive
  DType dtype;
  Dims dims;
};

DType dtype_from_name(const std::string& name, const char* what) {
  if (name == "float16") return DType::kFloat16;
  if (name == "bfloat16") return DType::kBFloat16;
  if (name == "float32") return DType::kFloat32;
  if (name == "float64") return DType::kFloat64;
  throw py::value_error(std::string(what) + " has dtype " + name +
                        "; expected float16, bfloat16, float32 or float64");
}

ArrayArg as_array(const py::handle& object, const char* what) {
  py::array array = py::array::ensure(object, py::array::c_style);
  if (!array) throw py::value_error(std::string(what) + " is not an array");
  const std::string dtype_name = py::str(array.dtype().attr("name"));
  return ArrayArg{array, dtype_from_name(dtype_name, what),
                  Dims(array.shape(), array.shape() + array.ndim())};
}

void require_same_dtype(const std::vector<const ArrayArg*>& args, const std::vector<const char*>& names) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i]->dtype != args[0]->dtype) {
      throw py::value_error(std::string("mixed dtypes: ") + names[0] + " is " +
                            std::string(py::str(args[0]->array.dtype())) + " but " + names[i] +
                            " is " + std::string(py::str(args[i]->array.dtype())));
    }
  }
}

SpatialDenseSpec make_spec(bool has_bias, const std::string& activation,
                           const std::vector<double>& params, const std::string& reduction,
                           int64_t derivative_order) {
  SpatialDenseSpec spec;
  spec.has_bias = has_bias;
  spec.derivative_order = static_cast<int>(derivative_order);
  std::string error = parse_reduction(reduction, &spec.reduction);
  if (error.empty()) error = parse_activation(activation, params, &spec.activation, &spec.params);
  if (error.empty()) error = check_derivative_order(derivative_order);
  if (!error.empty()) throw py::value_error(error);
  return spec;
}

// The bias operand: the array, or an empty [0] stand-in without bias.
ArrayArg bias_arg(const std::optional<py::object>& bias, const ArrayArg& like) {
  if (bias && !bias->is_none()) return as_array(*bias, "bias");
  return ArrayArg{py::array(like.array.dtype(), std::vector<py::ssize_t>{0}), like.dtype, Dims{0}};
}

py::array empty_like_dims(const ArrayArg& like, const Dims& dims) {
  return py::array(like.array.dtype(), std::vector<py::ssize_t>(dims.begin(), dims.end()));
}

py::array forward(const py::object& x_obj, const py::object& kernel_obj,
                  const std::optional<py::object>& bias_obj, const std::string& activation,
                  const std::vector<double>& params, const std::string& reduction,
                  int64_t derivative_order) {
  const ArrayArg x = as_array(x_obj, "x"), kernel = as_array(kernel_obj, "kernel");
  const bool has_bias = bias_obj && !bias_obj->is_none();
  const ArrayArg bias = bias_arg(bias_obj, x);
  require_same_dtype({&x, &kernel, &bias}, {"x", "kernel", "bias"});
  SpatialDenseSpec spec = make_spec(has_bias, activation, params, reduction, derivative_order);
  const std::string error = check_forward(x.dims, kernel.dims, bias.dims, &spec);
  if (!error.empty()) throw py::value_error(error);
  py::array y = empty_like_dims(x, spec.output_dims());
  {
    py::gil_scoped_release release;
    spatial_dense_forward_cpu(spec, x.dtype, x.array.data(), kernel.array.data(), bias.array.data(),
                              y.mutable_data(), run_serially);
  }
  return y;
}

py::tuple backward(const py::object& dy_obj, const py::object& x_obj, const py::object& kernel_obj,
                   const std::optional<py::object>& bias_obj, const std::string& activation,
                   const std::vector<double>& params, const std::string& reduction,
                   int64_t derivative_order) {
  const ArrayArg dy = as_array(dy_obj, "dy"), x = as_array(x_obj, "x"),
                 kernel = as_array(kernel_obj, "kernel");
  const bool has_bias = bias_obj && !bias_obj->is_none();
  const ArrayArg bias = bias_arg(bias_obj, x);
  require_same_dtype({&x, &dy, &kernel, &bias}, {"x", "dy", "kernel", "bias"});
  SpatialDenseSpec spec = make_spec(has_bias, activation, params, reduction, derivative_order);
  const std::string error = check_backward(dy.dims, x.dims, kernel.dims, bias.dims, &spec);
  if (!error.empty()) throw py::value_error(error);
  py::array dx = empty_like_dims(x, x.dims), dkernel = empty_like_dims(x, kernel.dims),
            dbias = empty_like_dims(x, bias.dims);
  {
    py::gil_scoped_release release;
    spatial_dense_backward_cpu(spec, x.dtype, dy.array.data(), x.array.data(), kernel.array.data(),
                               bias.array.data(), dx.mutable_data(), dkernel.mutable_data(),
                               dbias.mutable_data(), run_serially);
  }
  return py::make_tuple(dx, dkernel, has_bias ? py::object(dbias) : py::none());
}

// The float math the CPU kernels use (simd_math.h), element by element: its
// accuracy is tested over the whole float range against float64 NumPy.
py::array_t<float> float_math(const std::string& name, py::array_t<float, py::array::c_style> x) {
  float (*fn)(float) = nullptr;
  if (name == "exp") fn = simd_math::exp;
  else if (name == "expm1") fn = simd_math::expm1;
  else if (name == "log1p") fn = simd_math::log1p;
  else if (name == "tanh") fn = simd_math::tanh;
  else if (name == "erfc") fn = simd_math::erfc;
  else throw py::value_error("float_math: unknown function '" + name + "'");
  py::array_t<float> y(x.request().shape);
  const float* in = x.data();
  float* out = y.mutable_data();
  for (py::ssize_t i = 0; i < x.size(); ++i) out[i] = fn(in[i]);
  return y;
}

}  // namespace
}  // namespace spatial_ops

PYBIND11_MODULE(_core, m) {
  using namespace spatial_ops;
  m.doc() = "spatial_ops kernels on NumPy arrays (canonical [B, A, R, C] view), no TensorFlow.";
  m.def("forward", &forward, py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(),
        py::arg("activation") = "linear", py::arg("params") = std::vector<double>{},
        py::arg("reduction") = "none", py::arg("derivative_order") = 0,
        "y = reduce(activation(x * kernel + bias)); x [B, A, R, C], weights [A, R, C].\n"
        "derivative_order=1 puts the activation's derivative in its place.");
  m.def("backward", &backward, py::arg("dy"), py::arg("x"), py::arg("kernel"),
        py::arg("bias") = py::none(), py::arg("activation") = "linear",
        py::arg("params") = std::vector<double>{}, py::arg("reduction") = "none",
        py::arg("derivative_order") = 0,
        "(dx, dkernel, dbias) of forward; dbias is None without bias.");
  m.def("activation_names", &activation_names, "Comma-separated names of the fused activations.");
  m.def("active_cpu_isa", &active_cpu_isa, "The CPU kernels' build in use: baseline, avx2 or avx512.");
  m.def("float_math", &float_math, py::arg("name"), py::arg("x"),
        "exp, expm1, log1p, tanh or erfc as the CPU kernels compute them in float32.");
}
