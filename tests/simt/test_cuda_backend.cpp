// The CUDA backend on the SIMT emulator: the cuBLAS stand-in's argument checks (so the row-major ->
// column-major mapping is really tested), the caching allocator, device placement of results, and
// dropout masks identical to the CPU's for the same seed.
#include <cublasLt.h>
#include <cmath>
#include <cublas_v2.h>
#include <gtest/gtest.h>

#include "core/backend.h"
#include "core/cuda/cuda_backend.h"
#include "core/ops.h"
#include "core/optim/optimizer.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/runtime.h"

namespace ft {
namespace {

double test_max_rel(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double d = 0, m = 0;
  for (size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(x[i] - y[i])), m = std::max(m, std::abs(y[i]));
  return d / m;
}

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
    // More tensors than one launch's parameter table holds (48): several launches.
    for (int i = 0; i < 60; ++i) ps.push_back(randn({1 + i % 5}, DType::f32, &g).to(d));
    for (Tensor& p : ps) p.requires_grad_();
    return ps;
  };
  std::vector<Tensor> cpu = make(kCPU), dev = make(kCuda);
  auto groups = [](const std::vector<Tensor>& ps) {
    std::vector<Tensor> first = {ps[0], ps[1]}, second(ps.begin() + 2, ps.end());
    return std::vector<optim::ParamGroup>{{first, 1e-2, 0.1, {}}, {second, 5e-3, 0.0, {}}};
  };
  optim::AdamW opt_cpu(groups(cpu));
  optim::AdamW opt_dev(groups(dev), {0.9, 0.999, 1e-8, true});
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
  // A step whose ok flag (on the device) is false changes nothing; its counts are taken back.
  for (size_t i = 0; i < cpu.size(); ++i) dev[i].set_grad(full(dev[i].shape(), 1e3).to(kCuda));
  const std::vector<double> before = dev[0].to_vector<double>();
  opt_dev.step(zeros({}, DType::boolean).to(kCuda));
  opt_dev.undo_step_counts();
  EXPECT_EQ(dev[0].to_vector<double>(), before);
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

// Index checks run on the device: the op does not wait, the kernels skip the bad index (a zero
// row, no read outside the table), and the device's error record reports the first failure with
// the CPU's message when the host reads it; reading clears it.
TEST_F(CudaBackendEmu, BadIndicesAreReportedFromTheDevice) {
  Backend& be = backend_for(kCuda);
  const Tensor w = arange(1, 16, 1, DType::f32).reshape({5, 3}).to(kCuda);
  const int64_t waits = cuda::sync_counts().waits();
  const Tensor out = embedding(from_vector_i64({1, 7, 2}, {3}).to(kCuda), w);
  const Tensor loss = cross_entropy(zeros({2, 3}).to(kCuda), from_vector_i64({0, 3}, {2}).to(kCuda));
  EXPECT_EQ(cuda::sync_counts().waits(), waits) << "the checks waited for the device";
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{4, 5, 6, 0, 0, 0, 7, 8, 9}));
  try {
    be.raise_deferred_errors();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "embedding: index 7 at position 1 is out of range for size 5");
  }
  EXPECT_NO_THROW(be.raise_deferred_errors());  // cleared; the cross_entropy failure came second
  cross_entropy(zeros({2, 3}).to(kCuda), from_vector_i64({-100, 3}, {2}).to(kCuda));
  try {
    be.raise_deferred_errors();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cross_entropy: target 3 at position 1 is out of range for 3 classes");
  }
  (void)loss;
}

// Clipping without a wait: one multi-tensor sum of squares and a scale that reads the norm on the
// device, equal to the CPU's.
TEST_F(CudaBackendEmu, MultiTensorClippingMatchesTheCpu) {
  Generator gen(4);
  std::vector<Tensor> cpu, dev;
  for (int64_t n : {70000, 3, 131072, 5}) {
    Tensor p = zeros({n}), g = randn({n}, DType::f32, &gen);
    p.requires_grad_(true);
    p.set_grad(g.clone());
    cpu.push_back(p);
    Tensor q = zeros({n}).to(kCuda);
    q.requires_grad_(true);
    q.set_grad(g.to(kCuda));
    dev.push_back(q);
  }
  const int64_t waits = cuda::sync_counts().waits();
  const Tensor norm = optim::clip_grad_norm_(dev, 1.0);
  EXPECT_EQ(cuda::sync_counts().waits(), waits);
  EXPECT_NEAR(norm.item(), optim::clip_grad_norm(cpu, 1.0), 1e-9 * norm.item());
  for (size_t i = 0; i < cpu.size(); ++i)
    EXPECT_LE(test_max_rel(dev[i].grad().to(kCPU), cpu[i].grad()), 1e-6) << i;
}

// The cuBLASLt epilogues the linear layers use, against plain arithmetic, and the stand-in's
// checks: it implements BIAS, GELU_AUX_BIAS and BGRADB only and refuses what it does not emulate.
TEST_F(CudaBackendEmu, CublasLtEpiloguesAddTheBiasAndWriteItsGradient) {
  ASSERT_STREQ(backend_for(kCuda).implementation(kern::OptionalOp::linear_bias, kern::Elem::bf16), "cublaslt");
  const Tensor x = from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {3, 4}).to(kCuda);
  const Tensor w = from_vector({1, 0, 0, 1, 0, 1, 1, 0}, {2, 4}).to(kCuda), b = from_vector({10, 20}, {2}).to(kCuda);
  Tensor y = zeros({3, 2}).to(kCuda);
  cuda::linear_bias_fwd(kern::Elem::f32, x.raw_data(), w.raw_data(), b.raw_data(), 3, 2, 4, y.raw_data());
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{15, 25, 23, 33, 31, 41}));  // x w^T + b
  const Tensor g = from_vector({1, 2, 3, 4, 5, 6}, {3, 2}).to(kCuda);
  Tensor dw = zeros({2, 4}).to(kCuda), db = zeros({2}).to(kCuda);
  cuda::linear_wgrad_bgrad(kern::Elem::f32, g.raw_data(), x.raw_data(), 3, 2, 4, dw.raw_data(), db.raw_data());
  EXPECT_EQ(dw.to_vector<double>(), (std::vector<double>{61, 70, 79, 88, 76, 88, 100, 112}));  // g^T x
  EXPECT_EQ(db.to_vector<double>(), (std::vector<double>{9, 12}));                             // column sums of g
  // GELU_AUX_BIAS: y = gelu_tanh(h), aux = h = x w^T + b (8 out-features: the aux ld rule).
  const Tensor w8 = from_vector(std::vector<double>(32, 0.0625), {8, 4}).to(kCuda), b8 = zeros({8}).to(kCuda);
  Tensor y8 = zeros({3, 8}).to(kCuda), aux = zeros({3, 8}).to(kCuda);
  cuda::linear_bias_gelu_fwd(kern::Elem::f32, x.raw_data(), w8.raw_data(), b8.raw_data(), 3, 8, 4, y8.raw_data(),
                             aux.raw_data());
  const std::vector<double> hv = aux.to_vector<double>(), yv = y8.to_vector<double>();
  for (int i = 0; i < 24; ++i) {
    const double h = 0.0625 * (i / 8 == 0 ? 10 : i / 8 == 1 ? 26 : 42);  // row sums of x over 16
    EXPECT_DOUBLE_EQ(hv[i], h) << i;
    EXPECT_NEAR(yv[i], 0.5 * h * (1 + std::tanh(std::sqrt(2 / M_PI) * (h + 0.044715 * h * h * h))), 1e-6) << i;
  }

  cublasLtHandle_t h = nullptr;
  ASSERT_EQ(cublasLtCreate(&h), CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulDesc_t desc = nullptr;
  ASSERT_EQ(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), CUBLAS_STATUS_SUCCESS);
  const int64_t wrong_size = CUBLASLT_EPILOGUE_BIAS;  // the attribute is a uint32: sizes must match exactly
  EXPECT_EQ(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &wrong_size, sizeof(wrong_size)),
            CUBLAS_STATUS_INVALID_VALUE);
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, ld = nullptr;
  ASSERT_EQ(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, 4, 2, 4), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, 4, 3, 4), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasLtMatrixLayoutCreate(&ld, CUDA_R_32F, 2, 3, 2), CUBLAS_STATUS_SUCCESS);
  cublasLtMatrixLayout_t bad = nullptr;
  EXPECT_EQ(cublasLtMatrixLayoutCreate(&bad, CUDA_R_32F, 4, 2, 3), CUBLAS_STATUS_INVALID_VALUE);  // ld < rows
  const int32_t t = CUBLAS_OP_T;
  ASSERT_EQ(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof(t)), CUBLAS_STATUS_SUCCESS);
  cublasLtMatmulHeuristicResult_t r{};
  int found = 0;
  const uint32_t gelu = CUBLASLT_EPILOGUE_DGELU_BGRAD;  // not emulated: refused
  ASSERT_EQ(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &gelu, sizeof(gelu)),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, ld, ld, nullptr, 1, &r, &found),
            CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT_EQ(found, 0);
  const uint32_t aux_epi = CUBLASLT_EPILOGUE_GELU_AUX_BIAS;  // an aux ld that is not a multiple of 8
  ASSERT_EQ(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &aux_epi, sizeof(aux_epi)),
            CUBLAS_STATUS_SUCCESS);
  void* auxp = aux.raw_data();
  const int64_t aux_ld = 6;
  ASSERT_EQ(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &auxp, sizeof(auxp)),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &aux_ld, sizeof(aux_ld)),
            CUBLAS_STATUS_SUCCESS);
  const void* some_bias = b.raw_data();
  ASSERT_EQ(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &some_bias, sizeof(some_bias)),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, ld, ld, nullptr, 1, &r, &found),
            CUBLAS_STATUS_INVALID_VALUE);
  const uint32_t bias_epi = CUBLASLT_EPILOGUE_BIAS;
  ASSERT_EQ(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &bias_epi, sizeof(bias_epi)),
            CUBLAS_STATUS_SUCCESS);
  const float host_bias[2] = {1, 2};  // host memory: the stand-in's extent check refuses it
  const void* bp = host_bias;
  ASSERT_EQ(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof(bp)),
            CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, ld, ld, nullptr, 1, &r, &found), CUBLAS_STATUS_SUCCESS);
  ASSERT_EQ(found, 1);
  const float one = 1, zero = 0;
  EXPECT_EQ(cublasLtMatmul(h, desc, &one, w.raw_data(), la, x.raw_data(), lb, &zero, y.raw_data(), ld, y.raw_data(), ld,
                           &r.algo, nullptr, 0, nullptr),
            CUBLAS_STATUS_EXECUTION_FAILED);
  cublasLtMatrixLayoutDestroy(la);
  cublasLtMatrixLayoutDestroy(lb);
  cublasLtMatrixLayoutDestroy(ld);
  cublasLtMatmulDescDestroy(desc);
  cublasLtDestroy(h);
}

// In a fresh process: a tensor placed on cuda:1 selects device 1 (exit 0 when all is as it should be).
[[noreturn]] void run_on_device_one() {
  const Tensor t = add(arange(0, 4, 1, DType::f32).to(Device(DeviceType::cuda, 1)), 1.0);
  const bool ok = cuda::selected_device() == 1 && t.device() == Device(DeviceType::cuda, 1) &&
                  t.to_vector<double>() == std::vector<double>{1, 2, 3, 4};
  std::_Exit(ok ? 0 : 1);
}

// cuda:N runs on device N: a missing device is a clear error naming how many exist, and a process runs
// one device (data parallelism runs a process per device). With SIMT_DEVICES=2 a fresh process placed
// on cuda:1 selects device 1 for its allocations and launches.
TEST_F(CudaBackendEmu, DevicesByIndex) {
  try {
    zeros({2}).to(Device(DeviceType::cuda, 3));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cuda:3: no such device; this machine has 1 CUDA device (cuda:0)");
  }
  zeros({2}).to(kCuda);  // this process runs on cuda:0
  setenv("SIMT_DEVICES", "2", 1);
  try {
    zeros({2}).to(Device(DeviceType::cuda, 1));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "cuda:1: this process already runs on cuda:0; ftrain runs one CUDA device per process "
                           "(launch one process per device)");
  }
  unsetenv("SIMT_DEVICES");
}

TEST_F(CudaBackendEmu, AFreshProcessOnCuda1RunsOnDevice1) {
  setenv("SIMT_DEVICES", "2", 1);
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // the child runs this test alone: nothing selected yet
  EXPECT_EXIT(run_on_device_one(), ::testing::ExitedWithCode(0), "");
  unsetenv("SIMT_DEVICES");
}

}  // namespace
}  // namespace ft
