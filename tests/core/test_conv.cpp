// What the op table does not cover for the window ops: batch_norm's running statistics (momentum,
// unbiased variance, untouched in evaluation) and the shape errors users hit first.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/ops.h"

namespace ft {
namespace {

TEST(BatchNorm, RunningStatisticsFollowTorch) {
  Generator gen(5);
  const Tensor x = randn({4, 2, 3, 3}, DType::f64, &gen);
  Tensor rm = from_vector({0.5, -1.0}, {2}, DType::f64), rv = from_vector({2.0, 0.25}, {2}, DType::f64);
  batch_norm(x, Tensor(), Tensor(), rm, rv, true, 0.1, 1e-5);
  const auto v = x.to_vector<double>();
  for (int64_t c = 0; c < 2; ++c) {
    double s = 0, q = 0;
    const int64_t count = 4 * 9;
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t e = 0; e < 9; ++e) s += v[(b * 2 + c) * 9 + e];
    const double mu = s / count;
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t e = 0; e < 9; ++e) q += std::pow(v[(b * 2 + c) * 9 + e] - mu, 2);
    EXPECT_NEAR(rm.to_vector<double>()[c], 0.9 * (c ? -1.0 : 0.5) + 0.1 * mu, 1e-12);
    EXPECT_NEAR(rv.to_vector<double>()[c], 0.9 * (c ? 0.25 : 2.0) + 0.1 * q / (count - 1), 1e-12);  // unbiased
  }
  const auto before = rm.to_vector<double>();
  batch_norm(x, Tensor(), Tensor(), rm, rv, false, 0.1, 1e-5);
  EXPECT_EQ(rm.to_vector<double>(), before) << "evaluation must not move the running mean";
}

TEST(Conv2d, ShapeErrorsNameBothShapes) {
  const Tensor x = zeros({2, 3, 8, 8}), w = zeros({4, 2, 3, 3});
  try {
    conv2d(x, w);
    ADD_FAILURE() << "a weight for 2 input channels accepted 3";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight [4, 2, 3, 3] expects 2 input channels, the input [2, 3, 8, 8] has 3"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(conv2d(x, zeros({4, 3, 9, 9})), Error);  // kernel larger than the image
  EXPECT_THROW(max_pool2d(x, {3, 3}, {2, 2}, {2, 2}), Error);  // padding more than half the kernel
  EXPECT_EQ(conv2d(x, zeros({4, 3, 3, 3}), Tensor(), {2, 2}, {1, 1}).shape(), (Shape{2, 4, 4, 4}));
  EXPECT_EQ(max_pool2d(x, {3, 3}, {2, 2}, {1, 1}).shape(), (Shape{2, 3, 4, 4}));
}

}  // namespace
}  // namespace ft

namespace ft {
namespace {

// The CPU backend's oneDNN convolution against the composite (im2col + GEMM) it replaces, forward
// and both gradients, on the geometries ResNet uses and on odd ones (groups, dilation, strides that
// leave the last rows unread).
TEST(Conv2d, OneDnnEqualsTheNativeComposite) {
  struct Geo {
    Shape x, w;
    Pair2 s, p, d;
    int64_t groups;
  };
  const Geo geos[] = {{{4, 3, 32, 32}, {64, 3, 7, 7}, {2, 2}, {3, 3}, {1, 1}, 1},
                      {{4, 64, 8, 8}, {64, 64, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1},
                      {{4, 64, 8, 8}, {128, 64, 1, 1}, {2, 2}, {0, 0}, {1, 1}, 1},
                      {{2, 6, 9, 11}, {4, 3, 3, 2}, {2, 1}, {1, 2}, {2, 1}, 2}};
  for (const Geo& g : geos) {
    Generator gen(5);
    Tensor x0 = randn(g.x, DType::f32, &gen), w0 = randn(g.w, DType::f32, &gen);
    Tensor out_grad;
    std::vector<std::vector<float>> results[2];
    for (int impl = 0; impl < 2; ++impl) {
      set_conv_implementation(impl == 0 ? "onednn" : "native");
      Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_();
      Tensor y = conv2d(x, w, Tensor(), g.s, g.p, g.d, g.groups);
      if (!out_grad.defined()) out_grad = randn(y.shape(), DType::f32, &gen);
      sum(mul(y, out_grad)).backward();
      results[impl] = {y.to_vector<float>(), x.grad().to_vector<float>(), w.grad().to_vector<float>()};
    }
    set_conv_implementation("auto");
    for (int k = 0; k < 3; ++k) {
      double num = 0, den = 0;
      for (size_t i = 0; i < results[0][k].size(); ++i) {
        const double a = results[0][k][i], b = results[1][k][i];
        num += (a - b) * (a - b), den += b * b;
      }
      EXPECT_LT(num / den, 1e-11) << shape_str(g.x) << " result " << k;
    }
  }
}

TEST(Conv2d, AnUnavailableImplementationIsAnError) {
  set_conv_implementation("cudnn");  // the CPU backend has oneDNN, not cuDNN
  Tensor x = ones({1, 1, 4, 4}), w = ones({1, 1, 3, 3});
  EXPECT_THROW(conv2d(x, w, Tensor(), {1, 1}, {0, 0}, {1, 1}, 1), Error);
  set_conv_implementation("auto");
  EXPECT_THROW(set_conv_implementation("mkl"), Error);
}

}  // namespace
}  // namespace ft

namespace ft {
namespace {

// The CPU's batch-norm kernel (training) against the composite it replaces (mean, var, normalise;
// set_conv_implementation("native")), forward, gradients and running statistics, f64 and f32.
TEST(BatchNorm, KernelEqualsTheComposite) {
  for (DType dt : {DType::f64, DType::f32}) {
    Generator gen(8);
    Tensor x0 = randn({5, 6, 7, 3}, dt, &gen), w0 = randn({6}, dt, &gen), b0 = randn({6}, dt, &gen);
    Tensor gy = randn({5, 6, 7, 3}, dt, &gen);
    std::vector<std::vector<double>> r[2];
    for (int impl = 0; impl < 2; ++impl) {
      set_conv_implementation(impl == 0 ? "auto" : "native");
      Tensor x = x0.detach().requires_grad_(), w = w0.detach().requires_grad_(), b = b0.detach().requires_grad_();
      Tensor rm = zeros({6}, TensorOptions(dt)), rv = ones({6}, TensorOptions(dt));
      Tensor y = batch_norm(x, w, b, rm, rv, true, 0.1, 1e-5);
      EXPECT_EQ(impl == 0, y.grad_fn()->name() == std::string("batch_norm")) << "kernel vs composite";
      sum(mul(y, gy)).backward();
      for (const Tensor& t : {y, x.grad(), w.grad(), b.grad(), rm, rv}) r[impl].push_back(t.to(DType::f64).to_vector<double>());
    }
    set_conv_implementation("auto");
    for (size_t k = 0; k < r[0].size(); ++k)
      for (size_t i = 0; i < r[0][k].size(); ++i)
        ASSERT_NEAR(r[0][k][i], r[1][k][i], (dt == DType::f64 ? 1e-12 : 2e-5) * (1 + std::abs(r[1][k][i])))
            << dtype_name(dt) << " result " << k << " element " << i;
  }
}

}  // namespace
}  // namespace ft

namespace ft {
namespace {

// The CPU's max-pool kernel against the composite (im2col + max): the same values, the same winner
// on ties (distinct values are few here) and NaN, the same gradients.
TEST(MaxPool2d, KernelEqualsTheComposite) {
  for (DType dt : {DType::f64, DType::f32}) {
    std::vector<double> v(3 * 4 * 9 * 8);
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((i * 7919) % 5) - 2;  // small integers: many ties
    v[200] = NAN;
    Tensor x0 = from_vector(v, {3, 4, 9, 8}, dt);
    std::vector<std::vector<double>> r[2];
    for (int impl = 0; impl < 2; ++impl) {
      set_conv_implementation(impl == 0 ? "auto" : "native");
      Tensor x = x0.detach().requires_grad_();
      Tensor y = max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
      EXPECT_EQ(impl == 0, y.grad_fn()->name() == std::string("max_pool2d")) << "kernel vs composite";
      Tensor gy = arange(0, static_cast<double>(y.numel()), 1, dt).view(y.shape());
      sum(mul(y, gy)).backward();
      r[impl] = {y.to(DType::f64).to_vector<double>(), x.grad().to(DType::f64).to_vector<double>()};
    }
    set_conv_implementation("auto");
    for (int k = 0; k < 2; ++k)
      for (size_t i = 0; i < r[0][k].size(); ++i) {
        if (std::isnan(r[1][k][i])) {
          EXPECT_TRUE(std::isnan(r[0][k][i])) << k << " " << i;
          continue;
        }
        ASSERT_EQ(r[0][k][i], r[1][k][i]) << dtype_name(dt) << " result " << k << " element " << i;
      }
  }
}

}  // namespace
}  // namespace ft
