#include "python/array_args.h"

#include <Python.h>

#include <vector>

namespace spatial_ops {
namespace python {
namespace {

// The DLPack ABI (the unversioned "dltensor" capsule every producer offers),
// declared here so that the build needs no copy of dlpack.h.
struct DLDevice {
  int32_t device_type;
  int32_t device_id;
};
struct DLDataType {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
};
struct DLTensor {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;  // in elements; null: C-contiguous
  uint64_t byte_offset;
};
struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(DLManagedTensor*);
};
constexpr int32_t kDLCUDA = 2, kDLCUDAManaged = 13;
constexpr uint8_t kDLFloat = 2, kDLBfloat = 4;

bool is_cuda_device_type(int32_t type) { return type == kDLCUDA || type == kDLCUDAManaged; }

[[noreturn]] void unsupported_dtype(const std::string& name, const std::string& dtype) {
  throw py::value_error(name + " has dtype " + dtype + "; expected float16, bfloat16, float32 or float64");
}

DType dtype_from_name(const std::string& name, const std::string& dtype) {
  if (dtype == "float16") return DType::kFloat16;
  if (dtype == "bfloat16") return DType::kBFloat16;
  if (dtype == "float32") return DType::kFloat32;
  if (dtype == "float64") return DType::kFloat64;
  unsupported_dtype(name, dtype);
}

// Row-major contiguity with strides in elements; size-1 axes may have any stride.
bool c_contiguous(const Dims& dims, const std::vector<int64_t>& strides) {
  for (int64_t d : dims) {
    if (d == 0) return true;
  }
  int64_t expected = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    if (dims[i] != 1 && strides[i] != expected) return false;
    expected *= dims[i];
  }
  return true;
}

[[noreturn]] void not_contiguous(const ArrayArg& arg) {
  throw py::value_error(arg.describe() +
                        " is not C-contiguous; device arrays are never copied, pass a "
                        "contiguous one (e.g. .contiguous() or cupy.ascontiguousarray)");
}

std::optional<py::dict> cuda_array_interface(const py::handle& object) {
  try {
    return py::dict(object.attr("__cuda_array_interface__"));
  } catch (py::error_already_set&) {  // absent, or refused (PyTorch's bfloat16)
    return std::nullopt;
  }
}

std::optional<int32_t> dlpack_device_type(const py::handle& object) {
  try {
    const py::tuple device = object.attr("__dlpack_device__")();
    return device[0].cast<int32_t>();
  } catch (py::error_already_set&) {
    return std::nullopt;
  } catch (py::cast_error&) {
    return std::nullopt;
  }
}

// "<f4" -> float32; only little-endian (or byte-order-free) floats.
DType dtype_from_typestr(const std::string& name, const std::string& typestr) {
  if (typestr.size() >= 3 && typestr[0] != '>' && typestr[1] == 'f') {
    const std::string size = typestr.substr(2);
    if (size == "2") return DType::kFloat16;
    if (size == "4") return DType::kFloat32;
    if (size == "8") return DType::kFloat64;
  }
  unsupported_dtype(name, "'" + typestr + "' (__cuda_array_interface__ typestr)");
}

bool names_a_float(const py::dict& interface) {
  const std::string typestr = py::str(interface["typestr"]);
  return typestr.size() >= 2 && typestr[1] == 'f';
}

void parse_cuda_array_interface(const py::dict& interface, ArrayArg* arg) {
  if (interface.contains("mask") && !interface["mask"].is_none()) {
    throw py::value_error(arg->name + " is a masked array; masks are not supported");
  }
  arg->dtype = dtype_from_typestr(arg->name, py::str(interface["typestr"]));
  for (const py::handle& d : py::tuple(interface["shape"])) arg->dims.push_back(d.cast<int64_t>());
  const py::tuple data = interface["data"];
  arg->data = reinterpret_cast<void*>(data[0].cast<uintptr_t>());
  arg->writable = !data[1].cast<bool>();
  if (interface.contains("strides") && !interface["strides"].is_none()) {
    std::vector<int64_t> strides;
    const int64_t size = size_of(arg->dtype);
    for (const py::handle& s : py::tuple(interface["strides"])) {
      const int64_t bytes = s.cast<int64_t>();
      strides.push_back(bytes % size == 0 ? bytes / size : -1);
    }
    if (!c_contiguous(arg->dims, strides)) not_contiguous(*arg);
  }
}

void parse_dlpack(const py::handle& object, intptr_t stream, ArrayArg* arg) {
  // DLPack names the legacy default stream 1; 0 is not a valid request.
  const py::object capsule = object.attr("__dlpack__")(py::arg("stream") = stream == 0 ? 1 : stream);
  if (!PyCapsule_IsValid(capsule.ptr(), "dltensor")) {
    throw py::value_error(arg->name + ": __dlpack__ did not return an unused DLPack capsule");
  }
  auto* managed = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(capsule.ptr(), "dltensor"));
  PyCapsule_SetName(capsule.ptr(), "used_dltensor");  // ours to release now
  arg->dlpack = std::shared_ptr<void>(managed, [](void* pointer) {
    auto* tensor = static_cast<DLManagedTensor*>(pointer);
    if (tensor->deleter) tensor->deleter(tensor);
  });
  const DLTensor& tensor = managed->dl_tensor;
  if (!is_cuda_device_type(tensor.device.device_type)) {
    throw py::value_error(arg->name + " is a DLPack tensor on device type " +
                          std::to_string(tensor.device.device_type) + ", not CUDA");
  }
  arg->device = tensor.device.device_id;
  const DLDataType& t = tensor.dtype;
  if (t.lanes == 1 && t.code == kDLFloat && t.bits == 16)
    arg->dtype = DType::kFloat16;
  else if (t.lanes == 1 && t.code == kDLBfloat && t.bits == 16)
    arg->dtype = DType::kBFloat16;
  else if (t.lanes == 1 && t.code == kDLFloat && t.bits == 32)
    arg->dtype = DType::kFloat32;
  else if (t.lanes == 1 && t.code == kDLFloat && t.bits == 64)
    arg->dtype = DType::kFloat64;
  else {
    unsupported_dtype(arg->name, "code " + std::to_string(t.code) + " bits " + std::to_string(t.bits) + " lanes " +
                                     std::to_string(t.lanes) + " (DLPack)");
  }
  arg->dims.assign(tensor.shape, tensor.shape + tensor.ndim);
  arg->data = static_cast<char*>(tensor.data) + tensor.byte_offset;
  if (tensor.strides && !c_contiguous(arg->dims, std::vector<int64_t>(tensor.strides, tensor.strides + tensor.ndim))) {
    not_contiguous(*arg);
  }
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      break;
  }
  return "float64";
}

std::string ArrayArg::describe() const {
  return name + " " + dtype_name(dtype) + " " + dims_to_string(dims) +
         (placement == Placement::kDevice ? " (CUDA device array)" : " (host array)");
}

Placement placement_of(const py::handle& object) {
  if (py::isinstance<py::array>(object)) return Placement::kHost;
  // __dlpack_device__ is a cheap method where a library offers it; the
  // interface is a dict some libraries build on every access.
  if (const std::optional<int32_t> type = dlpack_device_type(object)) {
    return is_cuda_device_type(*type) ? Placement::kDevice : Placement::kHost;
  }
  return cuda_array_interface(object) ? Placement::kDevice : Placement::kHost;
}

ArrayArg host_operand(const py::handle& object, const char* name) {
  py::array array = py::array::ensure(object, py::array::c_style);
  if (!array) throw py::value_error(std::string(name) + " is not an array");
  ArrayArg arg;
  arg.name = name;
  arg.dtype = dtype_from_name(name, py::str(array.dtype().attr("name")));
  arg.dims.assign(array.shape(), array.shape() + array.ndim());
  arg.data = const_cast<void*>(array.data());
  arg.writable = false;
  arg.keep_alive = array;
  return arg;
}

ArrayArg host_output(const py::handle& object, const char* name) {
  if (!py::isinstance<py::array>(object)) {
    throw py::value_error(std::string(name) + " must be a NumPy array for host inputs");
  }
  py::array array = py::reinterpret_borrow<py::array>(object);
  ArrayArg arg;
  arg.name = name;
  arg.dtype = dtype_from_name(name, py::str(array.dtype().attr("name")));
  arg.dims.assign(array.shape(), array.shape() + array.ndim());
  arg.writable = array.writeable();
  if (!(array.flags() & py::array::c_style)) {
    throw py::value_error(arg.describe() + " must be C-contiguous");
  }
  arg.data = arg.writable ? array.mutable_data() : nullptr;
  arg.keep_alive = array;
  return arg;
}

std::optional<py::dict> DeviceArrayReader::interface(const py::handle& object) {
  for (const auto& [seen, interface] : interfaces_) {
    if (seen == object.ptr()) return interface;
  }
  interfaces_.emplace_back(object.ptr(), cuda_array_interface(object));
  return interfaces_.back().second;
}

std::optional<intptr_t> DeviceArrayReader::producer_stream(const py::handle& object) {
  const std::string module = py::str(py::type::handle_of(object).attr("__module__"));
  if (module.rfind("torch", 0) == 0) {
    if (!torch_stream_) {
      const py::object cuda = py::module_::import("torch").attr("cuda");
      torch_stream_ = cuda.attr("current_stream")(object.attr("device")).attr("cuda_stream").cast<intptr_t>();
    }
    return torch_stream_;
  }
  const std::optional<py::dict> interface = this->interface(object);
  if (interface && interface->contains("stream") && !(*interface)["stream"].is_none()) {
    return (*interface)["stream"].cast<intptr_t>();
  }
  return std::nullopt;
}

ArrayArg DeviceArrayReader::read(const py::handle& object, const char* name, intptr_t stream) {
  ArrayArg arg;
  arg.name = name;
  arg.placement = Placement::kDevice;
  arg.keep_alive = py::reinterpret_borrow<py::object>(object);
  arg.producer_stream = producer_stream(object);
  const std::optional<py::dict> interface = this->interface(object);
  if (interface && (names_a_float(*interface) || !py::hasattr(object, "__dlpack__"))) {
    parse_cuda_array_interface(*interface, &arg);
  } else {
    parse_dlpack(object, stream, &arg);
  }
  return arg;
}

}  // namespace python
}  // namespace spatial_ops
