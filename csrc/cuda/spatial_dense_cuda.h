// CUDA forward and backward of y = reduce(activation(x * kernel + bias)) on
// the canonical view (spec.h), launched on the caller's stream. This header
// needs no CUDA header: streams travel as void* (a cudaStream_t), so the
// TensorFlow and pybind11 bindings include it from plain host C++.
//
// All pointers are device memory. Callers validate shapes with spec.h first,
// then allocate workspace_bytes (any 16-byte-aligned device memory, only
// used during the call's kernels, so it may be freed stream-ordered right
// after) and launch. Launchers return "" or the CUDA error's text.
#pragma once

#include <cstddef>
#include <string>

#include "core/dtypes.h"
#include "core/spec.h"

namespace spatial_ops {

// Scratch for partial sums of the forward's reduction when a reduced run is
// too long for one team of threads; 0 when none is needed.
size_t spatial_dense_forward_cuda_workspace(const SpatialDenseSpec& spec, DType dtype);

// y: spec.output_dims(). bias is ignored when !spec.has_bias.
std::string spatial_dense_forward_cuda(const SpatialDenseSpec& spec, DType dtype, const void* x, const void* kernel,
                                       const void* bias, void* y, void* workspace, void* stream);

// Scratch for the per-block partial sums of dkernel and dbias.
size_t spatial_dense_backward_cuda_workspace(const SpatialDenseSpec& spec, DType dtype);

// dy: spec.output_dims(); dx like x; dkernel and dbias like kernel (dbias is
// untouched when !spec.has_bias). dkernel and dbias are sums over the batch
// taken in an order fixed by the shape alone (partials per block of rows,
// then fixed-order passes, no atomics): bitwise reproducible on any GPU.
std::string spatial_dense_backward_cuda(const SpatialDenseSpec& spec, DType dtype, const void* dy, const void* x,
                                        const void* kernel, const void* bias, void* dx, void* dkernel, void* dbias,
                                        void* workspace, void* stream);

// Host-side helpers for bindings that own no CUDA context of their own (the
// pybind11 module); TensorFlow's binding uses its device's allocator instead.
namespace cuda_runtime {

int device_count();  // 0 when there is no driver or no device
// The device a device pointer lives on, or an error message.
std::string device_of(const void* pointer, int* device);
// Makes `consumer` wait for the work queued so far on `producer` (an event,
// no host synchronisation); nothing when they are the same stream.
std::string order_after(void* producer, void* consumer);
// Makes `device` current for this thread and restores the previous one when
// it goes out of scope.
class DeviceScope {
 public:
  explicit DeviceScope(int device);
  ~DeviceScope();
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
  const std::string& error() const { return error_; }

 private:
  int previous_ = -1;
  std::string error_;
};
// Stream-ordered scratch memory: allocated on `stream`, freed on it when the
// object goes out of scope (after the kernels queued meanwhile have used it).
class StreamScratch {
 public:
  StreamScratch(size_t bytes, void* stream);
  ~StreamScratch();
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  void* data() const { return data_; }
  const std::string& error() const { return error_; }

 private:
  void* data_ = nullptr;
  void* stream_;
  std::string error_;
};

}  // namespace cuda_runtime
}  // namespace spatial_ops
