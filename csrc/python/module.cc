// spatial_ops._core: the kernels with no TensorFlow in the loop, on host
// arrays (NumPy) and, in a CUDA build, on CUDA device arrays (CuPy arrays,
// PyTorch tensors, ... through __cuda_array_interface__ or DLPack). Host calls
// return new arrays (or fill out=); device calls fill caller-allocated out=
// arrays and launch asynchronously on the arrays' current stream, as their
// own library would. Arguments are parsed and checked (array_args.h,
// core/spec.h) before any kernel or CUDA call.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cpu/parallel.h"
#include "cpu/spatial_dense_cpu.h"
#include "python/array_args.h"
#if SPATIAL_OPS_WITH_CUDA
#include "cuda/spatial_dense_cuda.h"
#endif

namespace spatial_ops {
namespace python {
namespace {

using Objects = std::vector<std::pair<const char*, py::handle>>;

SpatialDenseSpec make_spec(const SpecAttributes& attributes) {
  SpatialDenseSpec spec;
  const std::string error = parse_attributes(attributes, &spec);
  if (!error.empty()) throw py::value_error(error);
  return spec;
}

// Host and device arrays never mix in one call.
Placement common_placement(const Objects& objects) {
  const Placement first = placement_of(objects[0].second);
  for (size_t i = 1; i < objects.size(); ++i) {
    const Placement placement = placement_of(objects[i].second);
    if (placement != first) {
      const auto where = [](Placement p) { return p == Placement::kDevice ? "a CUDA device array" : "a host array"; };
      throw py::value_error(std::string("mixed host and device arrays: ") + objects[0].first + " is " + where(first) +
                            " but " + objects[i].first + " is " + where(placement) +
                            "; pass every array on one device");
    }
  }
  return first;
}

void require_same_dtype(const std::vector<const ArrayArg*>& args) {
  for (const ArrayArg* arg : args) {
    if (arg->dtype != args[0]->dtype) {
      throw py::value_error("mixed dtypes: " + args[0]->describe() + " but " + arg->describe());
    }
  }
}

void require_output(const ArrayArg& out, const Dims& dims, const ArrayArg& like) {
  if (out.dims != dims || out.dtype != like.dtype) {
    throw py::value_error(out.name + " must be " + dtype_name(like.dtype) + " " + dims_to_string(dims) + " for " +
                          like.describe() + ", got " + out.describe());
  }
  if (!out.writable) throw py::value_error(out.describe() + " is read-only");
}

void require(const std::string& error) {
  if (!error.empty()) throw py::value_error(error);
}

// ---- host arrays ----

// Without bias the kernels take a [0] stand-in.
ArrayArg host_bias(const std::optional<py::object>& bias, const ArrayArg& like) {
  if (bias && !bias->is_none()) return host_operand(*bias, "bias");
  ArrayArg none = like;
  none.name = "bias";
  none.dims = Dims{0};
  return none;
}

// out's array, checked, or a new one.
ArrayArg host_result(const py::object& out, const char* name, const Dims& dims, const ArrayArg& like) {
  if (!out.is_none()) {
    ArrayArg arg = host_output(out, name);
    require_output(arg, dims, like);
    return arg;
  }
  py::array array(py::reinterpret_borrow<py::array>(like.keep_alive).dtype(),
                  std::vector<py::ssize_t>(dims.begin(), dims.end()));
  ArrayArg arg;
  arg.name = name;
  arg.dtype = like.dtype;
  arg.dims = dims;
  arg.data = array.mutable_data();
  arg.keep_alive = array;
  return arg;
}

py::object forward_host(const py::object& x_obj, const py::object& kernel_obj,
                        const std::optional<py::object>& bias_obj, SpatialDenseSpec spec, const py::object& out,
                        int64_t threads) {
  const ArrayArg x = host_operand(x_obj, "x"), kernel = host_operand(kernel_obj, "kernel");
  const ArrayArg bias = host_bias(bias_obj, x);
  require_same_dtype({&x, &kernel, &bias});
  require(check_forward(x.dims, kernel.dims, bias.dims, &spec));
  const ArrayArg y = host_result(out, "out", spec.output_dims(x.dims), x);
  {
    py::gil_scoped_release release;
    spatial_dense_forward_cpu(spec, x.dtype, x.data, kernel.data, bias.data, y.data,
                              parallel_for_on_shared_pool(threads));
  }
  return y.keep_alive;
}

py::tuple backward_host(const py::object& dy_obj, const py::object& x_obj, const py::object& kernel_obj,
                        const std::optional<py::object>& bias_obj, SpatialDenseSpec spec,
                        const std::vector<py::object>& out, int64_t threads) {
  const ArrayArg dy = host_operand(dy_obj, "dy"), x = host_operand(x_obj, "x"),
                 kernel = host_operand(kernel_obj, "kernel");
  const ArrayArg bias = host_bias(bias_obj, x);
  require_same_dtype({&x, &dy, &kernel, &bias});
  require(check_backward(dy.dims, x.dims, kernel.dims, bias.dims, &spec));
  const ArrayArg dx = host_result(out[0], "dx", x.dims, x), dkernel = host_result(out[1], "dkernel", kernel.dims, x),
                 dbias = host_result(out[2], "dbias", bias.dims, x);
  {
    py::gil_scoped_release release;
    spatial_dense_backward_cpu(spec, x.dtype, dy.data, x.data, kernel.data, bias.data, dx.data, dkernel.data,
                               dbias.data, parallel_for_on_shared_pool(threads));
  }
  return py::make_tuple(dx.keep_alive, dkernel.keep_alive, spec.has_bias ? dbias.keep_alive : py::none());
}

// ---- device arrays ----

// The stream to launch on: the caller's, else the first array's library's
// current stream, else the legacy default stream.
intptr_t launch_stream(std::optional<intptr_t> requested, const Objects& arrays, DeviceArrayReader& reader) {
  if (requested) return *requested;
  for (const auto& named : arrays) {
    if (const std::optional<intptr_t> stream = reader.producer_stream(named.second)) return *stream;
  }
  return 0;
}

std::vector<ArrayArg> device_arrays(const Objects& objects, intptr_t stream, DeviceArrayReader& reader) {
  std::vector<ArrayArg> args;
  for (const auto& [name, object] : objects) args.push_back(reader.read(object, name, stream));
  return args;
}

[[noreturn]] void needs_out(const std::string& what, const ArrayArg& x) {
  throw py::value_error("device arrays need out=: pass preallocated " + what + " on the device of " + x.describe());
}

// The bias operand of a call without bias: no data, dims [0].
ArrayArg no_bias() {
  ArrayArg none;
  none.name = "bias";
  none.placement = Placement::kDevice;
  none.dims = Dims{0};
  return none;
}

#if SPATIAL_OPS_WITH_CUDA
// Makes the arrays' device current, orders the launch after each array's
// producer stream, and provides scratch memory for the launcher.
class DeviceLaunch {
 public:
  DeviceLaunch(std::initializer_list<const ArrayArg*> args, intptr_t stream) : stream_(stream) {
    for (const ArrayArg* arg : args) {
      int device = arg->device;
      if (device < 0 && arg->data) require_runtime(cuda_runtime::device_of(arg->data, &device));
      if (device < 0) continue;  // an empty array: no memory to place
      if (device_ >= 0 && device != device_) {
        throw py::value_error("arrays on different devices: cuda:" + std::to_string(device_) + " and " +
                              arg->describe() + " on cuda:" + std::to_string(device));
      }
      device_ = device;
    }
    if (device_ < 0) return;
    scope_.emplace(device_);
    require_runtime(scope_->error());
    for (const ArrayArg* arg : args) {
      if (arg->producer_stream) {
        require_runtime(cuda_runtime::order_after(handle(*arg->producer_stream), handle(stream_)));
      }
    }
  }
  bool empty() const { return device_ < 0; }  // nothing anywhere: nothing to launch
  void* stream() const { return handle(stream_); }
  void launch(size_t scratch_bytes, const std::function<std::string(void*)>& launcher) {
    cuda_runtime::StreamScratch scratch(scratch_bytes, stream());
    require_runtime(scratch.error());
    require_runtime(launcher(scratch.data()));
  }

 private:
  static void* handle(intptr_t stream) { return reinterpret_cast<void*>(stream); }
  static void require_runtime(const std::string& error) {
    if (!error.empty()) throw std::runtime_error(error);
  }
  intptr_t stream_;
  int device_ = -1;
  std::optional<cuda_runtime::DeviceScope> scope_;
};
#endif

[[noreturn]] void built_without_cuda() {
  throw py::value_error(
      "spatial_ops._core was built without CUDA, so it takes host arrays only, but got CUDA device "
      "arrays; rebuild it with -DSPATIAL_OPS_CUDA=ON");
}

// Outputs of a device call: every one given (dbias only with a bias).
bool outputs_given(const Objects& outputs, size_t expected) {
  for (const auto& named : outputs) {
    if (named.second.is_none()) return false;
  }
  return outputs.size() == expected;
}

py::object forward_device(const py::object& x_obj, const py::object& kernel_obj,
                          const std::optional<py::object>& bias_obj, SpatialDenseSpec spec, const py::object& out,
                          std::optional<intptr_t> requested_stream) {
#if SPATIAL_OPS_WITH_CUDA
  Objects operands{{"x", x_obj}, {"kernel", kernel_obj}};
  if (spec.has_bias) operands.emplace_back("bias", *bias_obj);
  Objects everything = operands;
  everything.emplace_back("out", out);
  DeviceArrayReader reader;
  const intptr_t stream = launch_stream(requested_stream, everything, reader);
  const std::vector<ArrayArg> args = device_arrays(operands, stream, reader);
  const ArrayArg &x = args[0], &kernel = args[1];
  const ArrayArg bias = spec.has_bias ? args[2] : no_bias();
  require_same_dtype({&x, &kernel, spec.has_bias ? &bias : &x});
  require(check_forward(x.dims, kernel.dims, bias.dims, &spec));
  if (out.is_none()) needs_out("out " + dims_to_string(spec.output_dims(x.dims)), x);
  const ArrayArg y = reader.read(out, "out", stream);
  require_output(y, spec.output_dims(x.dims), x);
  DeviceLaunch launch({&x, &kernel, &bias, &y}, stream);
  if (!launch.empty()) {
    launch.launch(spatial_dense_forward_cuda_workspace(spec, x.dtype), [&](void* workspace) {
      return spatial_dense_forward_cuda(spec, x.dtype, x.data, kernel.data, bias.data, y.data, workspace,
                                        launch.stream());
    });
  }
  return out;
#else
  (void)kernel_obj, (void)bias_obj, (void)spec, (void)out, (void)requested_stream, (void)x_obj;
  built_without_cuda();
#endif
}

py::tuple backward_device(const py::object& dy_obj, const py::object& x_obj, const py::object& kernel_obj,
                          const std::optional<py::object>& bias_obj, SpatialDenseSpec spec,
                          const std::vector<py::object>& out, std::optional<intptr_t> requested_stream) {
#if SPATIAL_OPS_WITH_CUDA
  Objects operands{{"dy", dy_obj}, {"x", x_obj}, {"kernel", kernel_obj}};
  if (spec.has_bias) operands.emplace_back("bias", *bias_obj);
  Objects outputs{{"dx", out[0]}, {"dkernel", out[1]}};
  if (spec.has_bias) outputs.emplace_back("dbias", out[2]);
  Objects everything = operands;
  for (const auto& named : outputs) {
    if (!named.second.is_none()) everything.push_back(named);
  }
  DeviceArrayReader reader;
  const intptr_t stream = launch_stream(requested_stream, everything, reader);
  const std::vector<ArrayArg> args = device_arrays(operands, stream, reader);
  const ArrayArg &dy = args[0], &x = args[1], &kernel = args[2];
  const ArrayArg bias = spec.has_bias ? args[3] : no_bias();
  require_same_dtype({&x, &dy, &kernel, spec.has_bias ? &bias : &x});
  require(check_backward(dy.dims, x.dims, kernel.dims, bias.dims, &spec));
  if (!outputs_given(outputs, spec.has_bias ? 3 : 2)) {
    needs_out(std::string("out=(dx, dkernel, ") + (spec.has_bias ? "dbias)" : "None)"), x);
  }
  const std::vector<ArrayArg> results = device_arrays(outputs, stream, reader);
  const ArrayArg &dx = results[0], &dkernel = results[1];
  const ArrayArg dbias = spec.has_bias ? results[2] : no_bias();
  require_output(dx, x.dims, x);
  require_output(dkernel, kernel.dims, x);
  if (spec.has_bias) require_output(dbias, bias.dims, x);
  DeviceLaunch launch({&dy, &x, &kernel, &bias, &dx, &dkernel, &dbias}, stream);
  if (!launch.empty()) {
    launch.launch(spatial_dense_backward_cuda_workspace(spec, x.dtype), [&](void* workspace) {
      return spatial_dense_backward_cuda(spec, x.dtype, dy.data, x.data, kernel.data, bias.data, dx.data, dkernel.data,
                                         dbias.data, workspace, launch.stream());
    });
  }
  return py::make_tuple(out[0], out[1], spec.has_bias ? out[2] : py::none());
#else
  (void)dy_obj, (void)x_obj, (void)kernel_obj, (void)bias_obj, (void)spec, (void)out, (void)requested_stream;
  built_without_cuda();
#endif
}

// ---- the module's functions ----

// The threads a host call runs on: as asked (at least 1), else every core.
int64_t host_threads(std::optional<int64_t> requested) {
  if (requested) return std::max<int64_t>(1, *requested);
  return std::max<int64_t>(1, std::thread::hardware_concurrency());
}

py::object forward(const py::object& x, const py::object& kernel, const std::optional<py::object>& bias,
                   const std::string& activation, const std::vector<double>& params, const std::string& reduction,
                   int64_t derivative_order, int64_t reduce_begin, int64_t reduce_end, const py::object& out,
                   std::optional<intptr_t> stream, std::optional<int64_t> threads) {
  const bool has_bias = bias && !bias->is_none();
  const SpatialDenseSpec spec =
      make_spec({activation, params, reduction, has_bias, derivative_order, reduce_begin, reduce_end});
  Objects objects{{"x", x}, {"kernel", kernel}};
  if (has_bias) objects.emplace_back("bias", *bias);
  if (!out.is_none()) objects.emplace_back("out", out);
  if (common_placement(objects) == Placement::kDevice) {
    return forward_device(x, kernel, bias, spec, out, stream);
  }
  if (stream) throw py::value_error("stream= applies to device arrays only");
  return forward_host(x, kernel, bias, spec, out, host_threads(threads));
}

py::tuple backward(const py::object& dy, const py::object& x, const py::object& kernel,
                   const std::optional<py::object>& bias, const std::string& activation,
                   const std::vector<double>& params, const std::string& reduction, int64_t derivative_order,
                   int64_t reduce_begin, int64_t reduce_end, const std::optional<py::tuple>& out,
                   std::optional<intptr_t> stream, std::optional<int64_t> threads) {
  const bool has_bias = bias && !bias->is_none();
  const SpatialDenseSpec spec =
      make_spec({activation, params, reduction, has_bias, derivative_order, reduce_begin, reduce_end});
  std::vector<py::object> outs(3, py::none());
  if (out) {
    if (out->size() != 3 || (!has_bias && !(*out)[2].is_none())) {
      throw py::value_error("out must be (dx, dkernel, dbias), with dbias None when there is no bias");
    }
    for (size_t i = 0; i < 3; ++i) outs[i] = (*out)[i];
  }
  Objects objects{{"dy", dy}, {"x", x}, {"kernel", kernel}};
  if (has_bias) objects.emplace_back("bias", *bias);
  const char* out_names[3] = {"dx", "dkernel", "dbias"};
  for (size_t i = 0; i < 3; ++i) {
    if (!outs[i].is_none()) objects.emplace_back(out_names[i], outs[i]);
  }
  if (common_placement(objects) == Placement::kDevice) {
    return backward_device(dy, x, kernel, bias, spec, outs, stream);
  }
  if (stream) throw py::value_error("stream= applies to device arrays only");
  return backward_host(dy, x, kernel, bias, spec, outs, host_threads(threads));
}

// The float math the CPU kernels use (float_math.h) as one CPU build computes
// it, element by element: its accuracy is tested over the whole float range
// against float64 NumPy, in each build.
py::array_t<float> float_math(const std::string& name, py::array_t<float, py::array::c_style> x,
                              const std::optional<std::string>& isa) {
  static const std::map<std::string, FloatFunction> functions{{"exp", FloatFunction::kExp},
                                                              {"exp_nonpositive", FloatFunction::kExpNonpositive},
                                                              {"expm1", FloatFunction::kExpm1},
                                                              {"expm1_nonpositive", FloatFunction::kExpm1Nonpositive},
                                                              {"log1p_unit", FloatFunction::kLog1pUnit},
                                                              {"tanh", FloatFunction::kTanh},
                                                              {"erfc", FloatFunction::kErfc}};
  const auto function = functions.find(name);
  if (function == functions.end()) throw py::value_error("float_math: unknown function '" + name + "'");
  py::array_t<float> y(x.request().shape);
  try {
    float_math_cpu(isa.value_or(active_cpu_isa()), function->second, x.data(), y.mutable_data(), x.size());
  } catch (const std::invalid_argument& error) {
    throw py::value_error(error.what());
  }
  return y;
}

#if SPATIAL_OPS_WITH_CUDA
constexpr bool kBuiltWithCuda = true;
#else
constexpr bool kBuiltWithCuda = false;
#endif

int cuda_device_count() {
#if SPATIAL_OPS_WITH_CUDA
  return cuda_runtime::device_count();
#else
  return 0;
#endif
}

}  // namespace
}  // namespace python
}  // namespace spatial_ops

PYBIND11_MODULE(_core, m) {
  using namespace spatial_ops;
  namespace py = pybind11;
  m.doc() = "spatial_ops kernels on host (NumPy) and CUDA device arrays, no TensorFlow.";
  m.def("forward", &python::forward, py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(),
        py::arg("activation") = "linear", py::arg("params") = std::vector<double>{}, py::arg("reduction") = "none",
        py::arg("derivative_order") = 0, py::kw_only(), py::arg("reduce_begin") = 2, py::arg("reduce_end") = 3,
        py::arg("out") = py::none(), py::arg("stream") = py::none(), py::arg("threads") = py::none(),
        "y = reduce(activation(x * kernel + bias)); x (batch, d1, ..., dk), weights (d1, ..., dk);\n"
        "a reduction sums x's axes [reduce_begin, reduce_end) (default: axis 2 of [B, A, R, C]).\n"
        "derivative_order=1 puts the activation's derivative in its place.\n"
        "Host arrays: returns y (or fills out). CUDA device arrays (__cuda_array_interface__ or\n"
        "DLPack): fills out, a preallocated array on the same device, and returns it; the launch\n"
        "is queued on `stream` (a cudaStream_t as an int; 0 or 1: the legacy default stream)\n"
        "or else on the arrays' current stream. Host arrays run on `threads` threads (default:\n"
        "every core).");
  m.def("backward", &python::backward, py::arg("dy"), py::arg("x"), py::arg("kernel"), py::arg("bias") = py::none(),
        py::arg("activation") = "linear", py::arg("params") = std::vector<double>{}, py::arg("reduction") = "none",
        py::arg("derivative_order") = 0, py::kw_only(), py::arg("reduce_begin") = 2, py::arg("reduce_end") = 3,
        py::arg("out") = py::none(), py::arg("stream") = py::none(), py::arg("threads") = py::none(),
        "(dx, dkernel, dbias) of forward; dbias is None without bias.\n"
        "Device arrays need out=(dx, dkernel, dbias or None); see forward for streams and threads.");
  m.def("activation_names", &activation_names, "Comma-separated names of the fused activations.");
  m.def("active_cpu_isa", &active_cpu_isa, "The CPU kernels' build in use: baseline, avx2 or avx512.");
  m.def("supported_cpu_isas", &supported_cpu_isas, "The CPU kernels' builds this CPU can run.");
  m.def("float_math", &python::float_math, py::arg("name"), py::arg("x"), py::arg("isa") = py::none(),
        "exp, expm1, log1p_unit (log1p on [0, 1]), tanh or erfc in float32 as the CPU kernels'\n"
        "build `isa` computes them (default: the build in use).");
  m.attr("built_with_cuda") = python::kBuiltWithCuda;
  m.def("cuda_device_count", &python::cuda_device_count,
        "CUDA devices visible (0 without a driver or device, or in a build without CUDA).");
}
