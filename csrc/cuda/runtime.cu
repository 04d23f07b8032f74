// The CUDA runtime calls a binding without its own GPU framework needs
// (spatial_dense_cuda.h's cuda_runtime namespace): device lookup, the current device, and
// stream-ordered scratch memory.
#include <cuda_runtime.h>

#include "cuda/spatial_dense_cuda.h"

namespace spatial_ops {
namespace cuda_runtime {
namespace {

std::string describe(cudaError_t error, const char* what) {
  return std::string(what) + ": " + cudaGetErrorName(error) + " (" + cudaGetErrorString(error) + ")";
}

}  // namespace

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: not an error for the caller to trip on later
    return 0;
  }
  return count;
}

std::string device_of(const void* pointer, int* device) {
  cudaPointerAttributes attributes;
  const cudaError_t error = cudaPointerGetAttributes(&attributes, pointer);
  if (error != cudaSuccess) {
    cudaGetLastError();
    return describe(error, "cannot tell which device holds the array");
  }
  if (attributes.type != cudaMemoryTypeDevice && attributes.type != cudaMemoryTypeManaged) {
    return "the array's pointer is not CUDA device memory";
  }
  *device = attributes.device;
  return "";
}

std::string order_after(void* producer, void* consumer) {
  if (producer == consumer) return "";
  cudaEvent_t event;
  cudaError_t error = cudaEventCreateWithFlags(&event, cudaEventDisableTiming);
  if (error == cudaSuccess) {
    error = cudaEventRecord(event, static_cast<cudaStream_t>(producer));
    if (error == cudaSuccess) error = cudaStreamWaitEvent(static_cast<cudaStream_t>(consumer), event, 0);
    cudaEventDestroy(event);  // released once the wait is satisfied
  }
  if (error != cudaSuccess) {
    cudaGetLastError();
    return describe(error, "cannot order the launch after the arrays' stream");
  }
  return "";
}

DeviceScope::DeviceScope(int device) {
  cudaError_t error = cudaGetDevice(&previous_);
  if (error == cudaSuccess && previous_ != device) error = cudaSetDevice(device);
  if (error != cudaSuccess) {
    cudaGetLastError();
    error_ = describe(error, "cannot make the arrays' device current");
    previous_ = -1;
  }
}

DeviceScope::~DeviceScope() {
  if (previous_ >= 0) cudaSetDevice(previous_);
}

StreamScratch::StreamScratch(size_t bytes, void* stream) : stream_(stream) {
  if (bytes == 0) return;
  const cudaError_t error = cudaMallocAsync(&data_, bytes, static_cast<cudaStream_t>(stream));
  if (error != cudaSuccess) {
    cudaGetLastError();
    data_ = nullptr;
    error_ = describe(error, "cannot allocate the kernels' scratch memory");
  }
}

StreamScratch::~StreamScratch() {
  if (data_) cudaFreeAsync(data_, static_cast<cudaStream_t>(stream_));
}

}  // namespace cuda_runtime
}  // namespace spatial_ops
