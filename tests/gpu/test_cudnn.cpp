// On a real GPU (label gpu; built wherever nvcc and cuDNN are, run only where a device is): cuDNN's
// convolution and batch norm against our own kernels for the same ops on the same device, forward
// and backward, in f32 (TF32 off) and f64; and a ResNet training step's running statistics.
#include <gtest/gtest.h>

#include "core/cuda/cuda_backend.h"
#include "core/ops.h"
#include "tests/common/test_util.h"

namespace ft {
namespace {

struct ConvResult {
  Tensor y, dx, dw;
};

ConvResult conv_run(const std::string& impl, const Tensor& x0, const Tensor& w0, Pair2 s, Pair2 p, Pair2 d, int64_t groups) {
  set_conv_implementation(impl);
  Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_();
  Tensor y = conv2d(x, w, Tensor(), s, p, d, groups);
  sum(mul(y, y)).backward();
  set_conv_implementation("auto");
  return {y.detach().to(kCPU), x.grad().to(kCPU), w.grad().to(kCPU)};
}

TEST(Cudnn, ConvolutionMatchesNativeKernels) {
  ASSERT_TRUE(install_cuda_backend());
  const Device dev(DeviceType::cuda, 0);
  Generator gen(11);
  struct Shape4 {
    Shape x, w;
    Pair2 s, p, d;
    int64_t groups;
  };
  const std::vector<Shape4> cases = {{{4, 3, 32, 32}, {16, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}, 1},
                                     {{2, 16, 15, 13}, {32, 16, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
                                     {{2, 8, 9, 9}, {8, 2, 3, 3}, {2, 1}, {1, 2}, {2, 1}, 4},
                                     {{3, 12, 8, 8}, {24, 12, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 1}};
  for (DType dt : {DType::f64, DType::f32}) {
    for (const Shape4& c : cases) {
      const Tensor x = randn(c.x, dt, &gen).to(dev), w = randn(c.w, dt, &gen).to(dev);
      const ConvResult a = conv_run("cudnn", x, w, c.s, c.p, c.d, c.groups), b = conv_run("native", x, w, c.s, c.p, c.d, c.groups);
      const double tol = dt == DType::f64 ? 1e-12 : 1e-5;
      EXPECT_LE(test::rel_error(a.y, b.y), tol) << shape_str(c.x) << " " << dt;
      EXPECT_LE(test::rel_error(a.dx, b.dx), tol) << shape_str(c.x) << " " << dt;
      EXPECT_LE(test::rel_error(a.dw, b.dw), tol) << shape_str(c.x) << " " << dt;
    }
  }
}

TEST(Cudnn, BatchNormTrainingMatchesComposite) {
  ASSERT_TRUE(install_cuda_backend());
  const Device dev(DeviceType::cuda, 0);
  Generator gen(12);
  for (DType dt : {DType::f64, DType::f32}) {
    const Tensor x0 = add(mul(randn({6, 5, 7, 4}, dt, &gen), 2.0), 0.5).to(dev);
    const Tensor w0 = randn({5}, dt, &gen).to(dev), b0 = randn({5}, dt, &gen).to(dev);
    std::vector<Tensor> out;
    for (const char* impl : {"cudnn", "native"}) {
      set_conv_implementation(impl);
      Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
      Tensor rm = zeros({5}, TensorOptions(dt).with_device(dev)), rv = ones({5}, TensorOptions(dt).with_device(dev));
      Tensor y = batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
      sum(mul(y, y)).backward();
      for (const Tensor& t : {y.detach(), x.grad(), w.grad(), b.grad(), rm, rv}) out.push_back(t.to(kCPU));
    }
    set_conv_implementation("auto");
    const double tol = dt == DType::f64 ? 1e-10 : 1e-4;
    for (size_t i = 0; i < 6; ++i) EXPECT_LE(test::rel_error(out[i], out[i + 6]), tol) << "output " << i << " " << dt;
  }
}

}  // namespace
}  // namespace ft
