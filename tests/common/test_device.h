// The device a model test runs on: the SIMT-emulated CUDA device in the emu. builds of a test
// (compiled with FT_TEST_CUDA), the CPU otherwise. use_test_device() installs the CUDA backend there.
#pragma once
#include "core/device.h"
#if defined(FT_TEST_CUDA)
#include "core/cuda/cuda_backend.h"
#endif

namespace ft::test {

#if defined(FT_TEST_CUDA)
inline const Device kTestDevice(DeviceType::cuda, 0);
inline bool use_test_device() { return install_cuda_backend(); }
#else
inline const Device kTestDevice = kCPU;
inline bool use_test_device() { return true; }
#endif

}  // namespace ft::test
