// The arrays of one call as the kernels see them (data pointer, dtype, dims,
// where they live), from host arrays (NumPy, or anything NumPy can view) or
// CUDA device arrays (__cuda_array_interface__ or DLPack: CuPy arrays,
// PyTorch tensors, ...). Parsing never touches the GPU, so every error about
// the arguments comes before any CUDA call, and reads the same with or
// without a GPU.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/dtypes.h"
#include "core/spec.h"

namespace spatial_ops {
namespace python {

namespace py = pybind11;

enum class Placement { kHost, kDevice };

struct ArrayArg {
  std::string name;  // the argument, for messages
  Placement placement = Placement::kHost;
  DType dtype = DType::kFloat32;
  Dims dims;
  void* data = nullptr;
  bool writable = true;
  int device = -1;  // CUDA ordinal when the protocol states it (DLPack), else -1
  // The stream its producer queues work on, when known: ordering the launch
  // after it makes the data ready (see producer_stream).
  std::optional<intptr_t> producer_stream;
  py::object keep_alive;         // the host array, or the device array object
  std::shared_ptr<void> dlpack;  // releases an imported DLPack tensor

  std::string describe() const;  // "x float32 [2, 3, 4, 5] (CUDA device array)"
};

const char* dtype_name(DType dtype);

// Where an object's data lives, judged from the protocols it offers.
Placement placement_of(const py::handle& object);

// A host operand, viewed C-contiguous (copied only if it is not).
ArrayArg host_operand(const py::handle& object, const char* name);
// A host output: a writable C-contiguous NumPy array, used as it is.
ArrayArg host_output(const py::handle& object, const char* name);

// Reads the device arrays of one call. Each object's __cuda_array_interface__
// is asked for once (PyTorch builds it in Python, at a cost near that of a
// small kernel), and PyTorch's current stream once: the arrays of a call are
// on one device (checked at launch), so PyTorch tensors share that stream.
class DeviceArrayReader {
 public:
  // The stream the array's library queues work on, when it says or can be
  // asked: __cuda_array_interface__ version 3 states it (CuPy, Numba);
  // PyTorch keeps it in torch.cuda.current_stream(). Stream handles follow
  // the protocols: 1 (or 0) the legacy default stream, 2 the per-thread
  // default, else a cudaStream_t.
  std::optional<intptr_t> producer_stream(const py::handle& object);

  // The array through __cuda_array_interface__, or DLPack when that is all
  // it offers or its interface names no float type (PyTorch describes
  // bfloat16 as '<V2', raw 2-byte records), asking __dlpack__ for data ready
  // on `stream`. It must be C-contiguous: device arrays are never copied.
  ArrayArg read(const py::handle& object, const char* name, intptr_t stream);

 private:
  // A new reference to the cached dict (a reference into interfaces_ would
  // dangle once it grows).
  std::optional<py::dict> interface(const py::handle& object);

  std::vector<std::pair<PyObject*, std::optional<py::dict>>> interfaces_;
  std::optional<intptr_t> torch_stream_;  // PyTorch's current stream, once asked
};

}  // namespace python
}  // namespace spatial_ops
