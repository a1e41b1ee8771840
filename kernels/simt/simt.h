// The one header CUDA kernel sources include. Under nvcc it maps the simt:: API onto real CUDA;
// under g++ it pulls in the SIMT emulator (kernels/simt/emu.h), which runs the same kernels on the
// CPU with one fiber per CUDA thread. Kernel source rules (both builds compile every .cu):
//   1. launch only through simt::launch(kernel, grid, block, smem_bytes, stream, args...);
//   2. dynamic shared memory only through simt::dynamic_smem<T>();
//   3. SIMT_ARCH instead of __CUDA_ARCH__;
//   4. no raw inline PTX: wrap it in a __device__ function with an emulated twin;
//   5. no <<<>>>, no extern __shared__, no warp-synchronous code without __syncwarp.
#pragma once

#if defined(__CUDACC__)

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <stdexcept>
#include <string>

#include "core/error.h"

#if defined(__CUDA_ARCH__)
#define SIMT_ARCH __CUDA_ARCH__
#else
#define SIMT_ARCH 0
#endif

namespace simt {

using Stream = cudaStream_t;

struct Error : ft::Error {
  using ft::Error::Error;
};

template <class T>
__device__ __forceinline__ T* dynamic_smem() {
  extern __shared__ __align__(16) unsigned char simt_dynamic_smem_[];
  return reinterpret_cast<T*>(simt_dynamic_smem_);
}

template <class... KArgs, class... Args>
void launch(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, Stream stream, Args&&... args) {
  kernel<<<grid, block, smem, stream>>>(static_cast<KArgs>(args)...);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw Error(std::string("kernel launch failed: ") + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

// cudaFuncSetAttribute(MaxDynamicSharedMemorySize) for kernels that need more than 48 KB.
template <class... KArgs>
void set_max_dynamic_smem(void (*kernel)(KArgs...), size_t bytes) {
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
  if (e != cudaSuccess) throw Error(std::string("cudaFuncSetAttribute failed: ") + cudaGetErrorString(e));
}

}  // namespace simt

#else
#include "kernels/simt/emu.h"
#endif
