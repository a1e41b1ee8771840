// The CUDA device for core: installs the caching allocator and the CUDA backend for
// DeviceType::cuda. The product links the real kernels (nvcc) and runtime; test binaries link the
// same sources compiled for the SIMT emulator (ft_cuda_emu), which is never used by the product.
#pragma once
#include "core/cuda/caching_allocator.h"

namespace ft {

// Returns false (and installs nothing) when the runtime sees no device.
bool install_cuda_backend();
// Runs this process on cuda:index: a clear error when no such device exists, or when the process
// already uses another one (ftrain runs one CUDA device per process; launch a process per device).
// Every CUDA allocation calls it, so a tensor placed on cuda:N runs on device N.
void use_cuda_device(int index);
CachingAllocator& cuda_allocator();
// Registers NCCL (core/cuda/nccl_comm.cpp) as the collectives of CUDA tensors (install_cuda_backend does).
void install_nccl_collectives();
const char* cuda_runtime_name();  // "cuda" or "simt-emulator"

}  // namespace ft
