// The CUDA backend on the SIMT emulator: the cuBLAS stand-in's argument checks (so the row-major ->
// column-major mapping is really tested), the caching allocator, device placement of results, and
// dropout masks identical to the CPU's for the same seed.
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include "core/cuda/cuda_backend.h"
#include "core/ops.h"
#include "core/optim/optimizer.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/runtime.h"

namespace ft {
namespace {

const Device kCuda(DeviceType::cuda, 0);

class CudaBackendEmu : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(install_cuda_backend()); }
};

TEST_F(CudaBackendEmu, RowMajorGemmMapsOntoColumnMajorCublas) {
  // Y[2,3] = X[2,4] W[3,4]^T, as nn.Linear computes it.
  Tensor x = arange(0, 8, 1, DType::f32).reshape({2, 4}).to(kCuda);
  Tensor w = arange(0, 12, 1, DType::f32).reshape({3, 4}).to(kCuda);
  Tensor y = empty({2, 3}, TensorOptions(DType::f32).with_device(kCuda));
  cuda::gemm(kern::Elem::f32, false, true, 2, 3, 4, 1.0, x.raw_data(), 4, w.raw_data(), 4, 0.0, y.raw_data(), 3);
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{14, 38, 62, 38, 126, 214}));
  // A leading dimension smaller than the stored rows is rejected as cuBLAS rejects it.
  try {
    cuda::gemm(kern::Elem::f32, false, true, 2, 3, 4, 1.0, x.raw_data(), 4, w.raw_data(), 2, 0.0, y.raw_data(), 3);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos) << e.what();
  }
  // Swapped operands read past W's allocation: the stand-in's extent check catches it.
  try {
    cuda::gemm(kern::Elem::f32, false, true, 3, 3, 4, 1.0, x.raw_data(), 4, w.raw_data(), 4, 0.0, y.raw_data(), 3);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("outside its device allocation"), std::string::npos) << e.what();
  }
}

// cublasGemmEx's type combinations as cuBLAS's table defines them: bf16/f16 inputs with 32F compute
// write bf16/f16 or f32 C; TF32 takes f32 only; 64F compute f64 only; A and B share a type. What the
// backend sends (16-bit data, CUBLAS_COMPUTE_32F) computes; the rest is refused.
TEST_F(CudaBackendEmu, GemmExTypeCombinationsFollowCublasTable) {
  cublasHandle_t h = nullptr;
  ASSERT_EQ(cublasCreate_v2(&h), CUBLAS_STATUS_SUCCESS);
  const Tensor a = from_vector({1, 2, 3, 4}, {2, 2}).to(DType::bf16).to(kCuda);  // column-major [[1,3],[2,4]]
  const Tensor a16 = from_vector({1, 2, 3, 4}, {2, 2}).to(DType::f16).to(kCuda);
  const Tensor a32 = from_vector({1, 2, 3, 4}, {2, 2}).to(kCuda);
  Tensor c32 = zeros({2, 2}).to(kCuda), c16 = zeros({2, 2}, DType::bf16).to(kCuda);
  Tensor c64 = zeros({2, 2}, DType::f64).to(kCuda);
  const float one = 1, zero = 0;
  auto gemm = [&](const Tensor& x, cudaDataType xt, const Tensor& y, cudaDataType yt, Tensor& c, cudaDataType ct,
                  cublasComputeType_t compute) {
    return cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, x.raw_data(), xt, 2, y.raw_data(), yt, 2, &zero,
                        c.raw_data(), ct, 2, compute, CUBLAS_GEMM_DEFAULT);
  };
  EXPECT_EQ(gemm(a, CUDA_R_16BF, a, CUDA_R_16BF, c32, CUDA_R_32F, CUBLAS_COMPUTE_32F), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c32.to_vector<double>(), (std::vector<double>{7, 10, 15, 22}));  // [[1,3],[2,4]]^2, column-major
  EXPECT_EQ(gemm(a, CUDA_R_16BF, a, CUDA_R_16BF, c16, CUDA_R_16BF, CUBLAS_COMPUTE_32F), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c16.to_vector<double>(), (std::vector<double>{7, 10, 15, 22}));
  EXPECT_EQ(gemm(a16, CUDA_R_16F, a16, CUDA_R_16F, c32, CUDA_R_32F, CUBLAS_COMPUTE_32F), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(gemm(a32, CUDA_R_32F, a32, CUDA_R_32F, c32, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32), CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(gemm(a, CUDA_R_16BF, a, CUDA_R_16BF, c32, CUDA_R_32F, CUBLAS_COMPUTE_32F_FAST_TF32),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(gemm(a, CUDA_R_16BF, a, CUDA_R_16BF, c64, CUDA_R_64F, CUBLAS_COMPUTE_64F), CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(gemm(a, CUDA_R_16BF, a16, CUDA_R_16F, c32, CUDA_R_32F, CUBLAS_COMPUTE_32F), CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(gemm(a32, CUDA_R_32F, a32, CUDA_R_32F, c16, CUDA_R_16BF, CUBLAS_COMPUTE_32F), CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(gemm(a16, CUDA_R_16F, a16, CUDA_R_16F, c16, CUDA_R_16F, CUBLAS_COMPUTE_16F), CUBLAS_STATUS_NOT_SUPPORTED);
  cublasDestroy_v2(h);
}

TEST_F(CudaBackendEmu, CopiesAreBoundsCheckedAgainstTheAllocationRegistry) {
  void* p = cuda::device_malloc(64);
  std::vector<char> host(128);
  EXPECT_THROW(cuda::copy(p, host.data(), 128, cuda::Copy::host_to_device), Error);
  cuda::copy(p, host.data(), 64, cuda::Copy::host_to_device);
  cuda::device_free(p);
  EXPECT_THROW(cuda::copy(host.data(), p, 8, cuda::Copy::device_to_host), Error);  // freed
}

TEST_F(CudaBackendEmu, HostPointersPassedToKernelsAreLaunchErrors) {
  std::vector<float> host(16, 1.f);
  Tensor dev = ones({16}).to(kCuda);
  kern::Strided v;
  v.ndim = 1, v.shape[0] = 16, v.stride[0] = 1;
  try {
    cuda::unary(kern::UnaryOp::exp, 0, 0, kern::Elem::f32, host.data(), v, dev.raw_data());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kernel argument 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not inside a live device allocation"), std::string::npos) << e.what();
  }
  cuda::unary(kern::UnaryOp::exp, 0, 0, kern::Elem::f32, dev.raw_data(), v, dev.raw_data());  // device: fine
}

TEST_F(CudaBackendEmu, CachingAllocatorReusesBlocksAndTracksUsage) {
  CachingAllocator& a = cuda_allocator();
  a.empty_cache();
  const DeviceMemoryStats before = a.stats();
  { Tensor t = empty({1000}, TensorOptions(DType::f32).with_device(kCuda)); }
  const DeviceMemoryStats mid = a.stats();
  { Tensor t = empty({1000}, TensorOptions(DType::f32).with_device(kCuda)); }
  const DeviceMemoryStats after = a.stats();
  EXPECT_EQ(mid.device_mallocs, before.device_mallocs + 1);
  EXPECT_EQ(after.device_mallocs, mid.device_mallocs) << "the second tensor must reuse the cached block";
  EXPECT_EQ(after.allocated, before.allocated);
  EXPECT_EQ(after.reserved, before.reserved + CachingAllocator::round_size(4000));
  EXPECT_GE(after.peak_allocated, CachingAllocator::round_size(4000));
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size((1 << 20) + 1), 2u << 20);
}

TEST_F(CudaBackendEmu, DropoutMasksAndRandomDrawsMatchTheCpu) {
  Tensor x = ones({3000});
  Generator g_cpu(77), g_dev(77);
  const auto cpu = dropout(x, 0.3, true, &g_cpu).to_vector<double>();
  Tensor on_dev = dropout(x.to(kCuda), 0.3, true, &g_dev);
  EXPECT_EQ(on_dev.device(), kCuda);
  EXPECT_EQ(on_dev.to_vector<double>(), cpu);
  Generator r_cpu(5), r_dev(5);
  EXPECT_EQ(rand({1001}, DType::f32, &r_cpu).to_vector<float>(),
            rand({1001}, TensorOptions(DType::f32).with_device(kCuda), &r_dev).to_vector<float>());
}

TEST_F(CudaBackendEmu, ResultsStayOnTheDeviceAndMixingDevicesIsAnError) {
  Tensor a = ones({2, 3}).to(kCuda);
  Tensor b = add(a, 1.0);
  EXPECT_EQ(b.device(), kCuda);
  EXPECT_EQ(sum(b).item(), 12.0);
  try {
    add(a, ones({2, 3}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "add: expected all tensors on the same device, got cuda:0 and cpu");
  }
  EXPECT_THROW(exp(ones({2}, DType::i64).to(kCuda)), Error);
}

TEST_F(CudaBackendEmu, MultiTensorAdamWMatchesTheCpuAndKeepsABf16Copy) {
  // Two groups with different settings, one parameter spanning several 4096-element chunks.
  auto make = [](Device d) {
    Generator g(3);
    std::vector<Tensor> ps = {randn({5000}, DType::f32, &g).to(d), randn({7, 3}, DType::f32, &g).to(d),
                              randn({3}, DType::f32, &g).to(d)};
    for (Tensor& p : ps) p.requires_grad_();
    return ps;
  };
  std::vector<Tensor> cpu = make(kCPU), dev = make(kCuda);
  optim::AdamW opt_cpu({{{cpu[0], cpu[1]}, 1e-2, 0.1, {}}, {{cpu[2]}, 5e-3, 0.0, {}}});
  optim::AdamW opt_dev({{{dev[0], dev[1]}, 1e-2, 0.1, {}}, {{dev[2]}, 5e-3, 0.0, {}}}, {0.9, 0.999, 1e-8, true});
  Generator gg(4);
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < cpu.size(); ++i) {
      Tensor g = randn(cpu[i].shape(), DType::f32, &gg);
      cpu[i].set_grad(g);
      dev[i].set_grad(g.to(kCuda));
    }
    opt_cpu.step();
    opt_dev.step();
  }
  for (size_t i = 0; i < cpu.size(); ++i) {
    const auto a = cpu[i].to_vector<double>(), b = dev[i].to_vector<double>();
    for (size_t k = 0; k < a.size(); ++k) ASSERT_NEAR(a[k], b[k], 1e-6) << "param " << i << " element " << k;
    const Tensor copy = opt_dev.state_of(dev[i])->bf16_copy;
    ASSERT_TRUE(copy.defined());
    EXPECT_EQ(copy.to_vector<double>(), dev[i].to(DType::bf16).to_vector<double>()) << "param " << i;
    EXPECT_EQ(opt_dev.state_of(dev[i])->step, 3);
  }
}

}  // namespace
}  // namespace ft

namespace ft {
namespace {

TEST_F(CudaBackendEmu, StreamsEventsAndPinnedMemory) {
  cuda::Stream* s = cuda::stream_create();
  cuda::Event* a = cuda::event_create();
  cuda::Event* b = cuda::event_create();
  void* pinned = cuda::pinned_malloc(4 * 64);
  ASSERT_NE(pinned, nullptr);
  float* host = static_cast<float*>(pinned);
  for (int i = 0; i < 64; ++i) host[i] = static_cast<float>(i);
  cuda::set_current_stream(s);
  Tensor dev = empty({64}, TensorOptions(DType::f32).with_device(kCuda));
  cuda::event_record(a, s);
  cuda::copy_async(dev.raw_data(), pinned, 4 * 64, cuda::Copy::host_to_device, s);
  Tensor doubled = mul(dev, 2.0);  // launched on the current stream
  cuda::event_record(b, s);
  cuda::stream_wait_event(s, b);
  cuda::event_synchronize(b);
  EXPECT_GE(cuda::event_elapsed_ms(a, b), 0.f);
  EXPECT_EQ(doubled.to_vector<float>()[63], 126.f);
  cuda::set_current_stream(nullptr);
  EXPECT_EQ(cuda::current_stream(), nullptr);
  cuda::event_destroy(a);
  cuda::Event* never = cuda::event_create();
  EXPECT_THROW(cuda::event_elapsed_ms(b, never), Error);
  cuda::event_destroy(never);
  cuda::event_destroy(b);
  cuda::pinned_free(pinned);
  cuda::stream_destroy(s);
}

}  // namespace
}  // namespace ft

namespace ft {
namespace {

TEST_F(CudaBackendEmu, Tf32IsOptInAndRoundsTheInputs) {
  const float x = 1.0f + 1.0f / 4096;  // needs 12 mantissa bits: exact in f32, rounds to 1.0 in TF32
  Tensor a = full({1, 1}, x).to(kCuda), b = ones({1, 1}).to(kCuda);
  EXPECT_FALSE(cuda::allow_tf32());
  EXPECT_EQ(matmul(a, b).item(), static_cast<double>(x));
  cuda::set_allow_tf32(true);
  const double with_tf32 = matmul(a, b).item();
  cuda::set_allow_tf32(false);
  EXPECT_EQ(with_tf32, 1.0);
}

}  // namespace
}  // namespace ft

namespace ft {
namespace {

TEST_F(CudaBackendEmu, SgdWithMomentumMatchesTheCpu) {
  Generator g(8);
  Tensor p_cpu = randn({300}, DType::f32, &g).requires_grad_();
  Tensor p_dev = p_cpu.detach().to(kCuda).requires_grad_();
  optim::SGD cpu({{{p_cpu}, 0.1, 1e-3, {}}}, {0.9, 0.0, true});
  optim::SGD dev({{{p_dev}, 0.1, 1e-3, {}}}, {0.9, 0.0, true});
  for (int step = 0; step < 3; ++step) {
    Tensor grad = randn({300}, DType::f32, &g);
    p_cpu.set_grad(grad);
    p_dev.set_grad(grad.to(kCuda));
    cpu.step();
    dev.step();
  }
  const auto a = p_cpu.to_vector<double>(), b = p_dev.to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6) << i;
}

}  // namespace
}  // namespace ft
