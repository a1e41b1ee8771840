// The runtime layer on the CUDA runtime API: every call checked, errors name the call and sizes.
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/runtime.h"

namespace ft::cuda {
namespace {
void check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) throw Error(cat(call, " failed: ", cudaGetErrorName(e), ": ", cudaGetErrorString(e)));
}
}  // namespace

const char* runtime_name() { return "cuda"; }

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear: no driver or no device means zero devices
    return 0;
  }
  return n;
}

void* device_malloc(size_t bytes) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  check(e, "cudaMalloc");
  return p;
}

void device_free(void* p) { check(cudaFree(p), "cudaFree"); }

void copy(void* dst, const void* src, size_t bytes, Copy kind) {
  if (bytes == 0) return;
  const cudaMemcpyKind k = kind == Copy::host_to_device   ? cudaMemcpyHostToDevice
                           : kind == Copy::device_to_host ? cudaMemcpyDeviceToHost
                                                          : cudaMemcpyDeviceToDevice;
  check(cudaMemcpy(dst, src, bytes, k), "cudaMemcpy");
}

void synchronize() { check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }

void check_device_range(const void*, size_t, const char*) {}
void note_extent(void*, size_t) {}

}  // namespace ft::cuda
