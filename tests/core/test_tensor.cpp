// Tensor layout, views, conversions, factories, printing and the errors of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/ops.h"
#include "tests/common/test_util.h"

namespace ft {
namespace {

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

TEST(Tensor, FactoriesFillValues) {
  EXPECT_EQ(vals(zeros({2, 2})), (std::vector<double>{0, 0, 0, 0}));
  EXPECT_EQ(vals(ones({3}, DType::i32)), (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(vals(full({2}, 2.5, DType::f64)), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(vals(arange(1, 3, 0.5)), (std::vector<double>{1, 1.5, 2, 2.5}));
  EXPECT_EQ(arange(0, 0).numel(), 0);
  EXPECT_EQ(scalar_tensor(4).dim(), 0);
  EXPECT_EQ(scalar_tensor(4).item(), 4);
  EXPECT_THROW(from_vector({1, 2, 3}, {2, 2}), Error);
  EXPECT_THROW(empty({2, -1}), Error);
}

TEST(Tensor, ViewsShareStorageAndHaveTheRightStrides) {
  Tensor a = arange(0, 24).reshape({2, 3, 4});
  EXPECT_EQ(a.strides(), (Shape{12, 4, 1}));
  Tensor p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_FALSE(p.is_contiguous());
  Tensor s = a.slice(2, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(vals(s.select(0, 1).select(0, 2)), (std::vector<double>{21, 23}));
  Tensor e = arange(0, 3).reshape({3, 1}).expand({2, 3, 4});
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(vals(e.contiguous())[5], 1);
  EXPECT_EQ(a.unsqueeze(0).shape(), (Shape{1, 2, 3, 4}));
  EXPECT_EQ(a.unsqueeze(-1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(a.unsqueeze(1).squeeze(1).shape(), a.shape());
  EXPECT_EQ(a.squeeze(0).shape(), a.shape());  // size 2: unchanged
  // A write through a view reaches the base.
  s.fill_(-1);
  EXPECT_EQ(vals(a)[1], -1);
  EXPECT_EQ(vals(a)[2], 2);
  EXPECT_EQ(vals(a)[3], -1);
}

TEST(Tensor, ViewRefusesWhatNeedsACopyAndReshapeCopies) {
  Tensor t = arange(0, 6).reshape({2, 3}).t();  // [3, 2], not contiguous
  EXPECT_THROW(t.view({6}), Error);
  Tensor r = t.reshape({6});
  EXPECT_EQ(vals(r), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  // Splitting and merging dims inside a contiguous chunk is a view.
  Tensor a = arange(0, 24).reshape({2, 3, 4}).permute({1, 0, 2});  // [3, 2, 4]
  Tensor v = a.view({3, 2, 2, 2});
  EXPECT_EQ(v.strides(), (Shape{4, 12, 2, 1}));
  EXPECT_THROW(a.view({6, 4}), Error);
  EXPECT_EQ(arange(0, 12).reshape({-1, 4}).shape(), (Shape{3, 4}));
  EXPECT_THROW(arange(0, 12).reshape({-1, 5}), Error);
}

TEST(Tensor, ContiguousCopiesOnlyWhenNeeded) {
  Tensor a = ones({3, 4});
  EXPECT_TRUE(a.contiguous().same(a));
  Tensor t = a.t();
  Tensor c = t.contiguous();
  EXPECT_FALSE(c.same(t));
  EXPECT_TRUE(c.is_contiguous());
  Tensor cl = a.clone();
  cl.fill_(2);
  EXPECT_EQ(vals(a)[0], 1);
}

TEST(Tensor, CopyBroadcastsAndConverts) {
  Tensor dst = zeros({2, 3}, DType::i64);
  dst.copy_(from_vector({1.9, -2.7, 3}, {3}));
  EXPECT_EQ(dst.to_vector<int64_t>(), (std::vector<int64_t>{1, -2, 3, 1, -2, 3}));  // truncation
  EXPECT_THROW(dst.copy_(ones({2})), Error);
  EXPECT_EQ(vals(from_vector({0, 2, -1}, {3}).to(DType::boolean)), (std::vector<double>{0, 1, 1}));
}

TEST(Tensor, Bf16AndF16RoundToNearestEven) {
  const double u = std::ldexp(1.0, -8);
  auto bf = [](double x) { return from_vector({x}, {1}).to(DType::bf16).to(DType::f64).item(); };
  EXPECT_EQ(bf(1 + u), 1.0);                          // tie -> even (1.0)
  EXPECT_EQ(bf(1 + 3 * u), 1 + 4 * u);                // tie -> even (mantissa 2)
  EXPECT_EQ(bf(1 + 1.01 * u), 1 + 2 * u);             // above the tie rounds up
  EXPECT_TRUE(std::isnan(bf(NAN)));
  EXPECT_TRUE(std::isinf(bf(INFINITY)));
  auto h = [](double x) { return from_vector({x}, {1}).to(DType::f16).to(DType::f64).item(); };
  EXPECT_EQ(h(1 + std::ldexp(1.0, -11)), 1.0);        // tie -> even
  EXPECT_EQ(h(1 + 3 * std::ldexp(1.0, -11)), 1 + std::ldexp(1.0, -9));
  EXPECT_EQ(h(65519), 65504);                         // largest finite
  EXPECT_TRUE(std::isinf(h(65520)));                  // tie rounds to even = overflow
  EXPECT_EQ(h(std::ldexp(1.0, -24)), std::ldexp(1.0, -24));  // smallest subnormal
  EXPECT_EQ(h(std::ldexp(1.0, -25)), 0.0);            // tie -> even (zero)
  EXPECT_EQ(h(std::ldexp(3.0, -26)), std::ldexp(1.0, -24));
  EXPECT_EQ(h(-std::ldexp(5.0, -24)), -std::ldexp(5.0, -24));  // subnormal, exact
  EXPECT_TRUE(std::isnan(h(NAN)));
}

TEST(Tensor, ConversionIsDifferentiable) {
  Tensor x = from_vector({1.5, -2}, {2}, TensorOptions(DType::f64).with_requires_grad());
  sum(mul(x.to(DType::f32), 3.0)).backward();
  EXPECT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{3, 3}));
}

TEST(Tensor, PrintsValuesShapeAndDtype) {
  const std::string s = arange(0, 6).reshape({2, 3}).str();
  EXPECT_NE(s.find("[[0, 1, 2],"), std::string::npos) << s;
  EXPECT_NE(s.find("shape=[2, 3], dtype=f32"), std::string::npos) << s;
  const std::string big = arange(0, 100, 1, DType::i64).str();
  EXPECT_NE(big.find("[0, 1, 2, ..., 97, 98, 99]"), std::string::npos) << big;
}

TEST(Device, ParsesNames) {
  EXPECT_TRUE(Device::parse("cpu").is_cpu());
  EXPECT_EQ(Device::parse("cuda:3").index, 3);
  EXPECT_EQ(Device::parse("cuda").str(), "cuda:0");
  EXPECT_THROW(Device::parse("gpu"), Error);
  EXPECT_THROW(Device::parse("cuda:x"), Error);
}

TEST(Device, CudaWithoutBackendIsAClearError) {
  try {
    ones({2}).to(Device(DeviceType::cuda, 0));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no allocator for device type cuda"), std::string::npos) << e.what();
  }
}

// Host memory standing in for a second device, so device checks can be exercised without a GPU.
class FakeDeviceAllocator : public Allocator {
 public:
  void* allocate(size_t n, Device d) override { return default_cpu_allocator().allocate(n, d); }
  void deallocate(void* p, size_t n, Device d) override { default_cpu_allocator().deallocate(p, n, d); }
  void copy(void* dst, const void* src, size_t n, CopyKind k) override { default_cpu_allocator().copy(dst, src, n, k); }
};

using test::error_of;

TEST(Errors, ShapeDtypeAndDeviceMismatchesNameTheOpAndOperands) {
  EXPECT_EQ(error_of([] { add(ones({2, 3}), ones({4})); }),
            "add: shapes [2, 3] and [4] cannot be broadcast together");
  EXPECT_EQ(error_of([] { mul(ones({2}), ones({2}, DType::f64)); }), "mul: dtype mismatch: f32 and f64");
  EXPECT_EQ(error_of([] { matmul(ones({2, 3}), ones({4, 5})); }),
            "matmul: shape mismatch: [2, 3] @ [4, 5] (inner dims 3 and 4)");
  EXPECT_EQ(error_of([] { linear(ones({2, 3}), ones({4, 5})); }),
            "linear: input [2, 3] does not match weight [4, 5] (in_features 5)");
  EXPECT_EQ(error_of([] { exp(ones({2}, DType::i64)); }), "exp: unsupported dtype i64 on cpu (supported: f32, f64)");
  EXPECT_EQ(error_of([] { embedding(from_vector_i64({0, 7}, {2}), ones({5, 2})); }),
            "embedding: index 7 at position 1 is out of range for size 5");
  // -1 is no index either (it once passed as the scatter's skip value and read before the table).
  EXPECT_EQ(error_of([] { embedding(from_vector_i64({-1}, {1}), ones({5, 2})); }),
            "embedding: index -1 at position 0 is out of range for size 5");
  EXPECT_EQ(error_of([] { index_select(ones({3, 2}), 0, from_vector_i64({1, -1}, {2})); }),
            "index_select: index -1 at position 1 is out of range for size 3");
  EXPECT_EQ(error_of([] { index_scatter(ones({1, 2}), 4, from_vector_i64({-1}, {1})); }),
            "index_scatter: index -1 at position 0 is out of range for size 4");
  EXPECT_EQ(error_of([] { cross_entropy(ones({2, 3}), from_vector_i64({0, 3}, {2})); }),
            "cross_entropy: target 3 at position 1 is out of range for 3 classes");
  EXPECT_EQ(error_of([] { layer_norm(ones({2, 3}), ones({4}), Tensor()); }),
            "layer_norm: weight [4] does not match normalized size 3 of input [2, 3]");
  EXPECT_EQ(error_of([] { concat({ones({2, 3}), ones({3, 3})}, 1); }),
            "concat: tensor 1 has shape [3, 3], which does not match [2, 3] outside dim 1");
  EXPECT_EQ(error_of([] { sum(ones({2, 3}), {2}); }), "sum: dim 2 out of range for a tensor of rank 2");
  FakeDeviceAllocator fake;
  Allocator* prev = set_allocator(DeviceType::cuda, &fake);
  Tensor on_dev = ones({2}).to(Device(DeviceType::cuda, 0));
  EXPECT_EQ(on_dev.device().str(), "cuda:0");
  EXPECT_EQ(error_of([&] { add(ones({2}), on_dev); }), "add: expected all tensors on the same device, got cpu and cuda:0");
  EXPECT_EQ(error_of([&] { exp(on_dev); }), "exp: no backend for device cuda:0 in this build");
  EXPECT_EQ(vals(on_dev.to(kCPU)), (std::vector<double>{1, 1}));
  on_dev = Tensor();
  set_allocator(DeviceType::cuda, prev);
}

}  // namespace
}  // namespace ft
