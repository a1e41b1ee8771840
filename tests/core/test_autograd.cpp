// Autograd edge cases: reuse, views, no-grad scopes, frozen parameters, needs-grad masks.
#include <gtest/gtest.h>

#include "core/ops.h"

namespace ft {
namespace {

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }
Tensor leaf(std::vector<double> v, Shape s) { return from_vector(v, s, TensorOptions(DType::f64).with_requires_grad()); }

TEST(Autograd, TensorUsedTwiceAccumulatesBothPaths) {
  Tensor x = leaf({1, -2, 3}, {3});
  Tensor y = add(mul(x, x), x);  // dy/dx = 2x + 1
  sum(y).backward();
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{3, -3, 7}));
}

TEST(Autograd, GradientsFlowThroughNonContiguousViews) {
  Tensor x = leaf({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor w = from_vector({1, 2, 3, 4, 5, 6}, {3, 2}, DType::f64);
  sum(mul(x.t(), w)).backward();  // d/dx = w^T
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{1, 3, 5, 2, 4, 6}));
  Tensor z = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  sum(z.slice(1, 0, 3, 2).select(0, 1)).backward();  // elements [1,0] and [1,2]
  EXPECT_EQ(vals(z.grad()), (std::vector<double>{0, 0, 0, 1, 0, 1}));
  Tensor e = leaf({1, 2}, {2, 1});
  sum(e.expand({3, 2, 4})).backward();  // each element used 12 times
  EXPECT_EQ(vals(e.grad()), (std::vector<double>{12, 12}));
  Tensor r = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  sum(mul(r.t().reshape({6}), arange(0, 6, 1, DType::f64))).backward();
  EXPECT_EQ(vals(r.grad()), (std::vector<double>{0, 2, 4, 1, 3, 5}));
}

TEST(Autograd, NoGradScopeRecordsNothingAndDetachCutsTheGraph) {
  Tensor x = leaf({1, 2}, {2});
  {
    NoGradGuard ng;
    Tensor y = mul(x, 2.0);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
  }
  EXPECT_TRUE(grad_enabled());
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  Tensor y = add(mul(d, 5.0), x);
  sum(y).backward();
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{1, 1}));
}

TEST(Autograd, FrozenParameterGetsNoGradientAndNoWork) {
  Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  Tensor w = from_vector({1, 0, 0, 1}, {2, 2}, DType::f64);  // frozen: requires_grad false
  Tensor b = leaf({0.5, -0.5}, {2});
  sum(linear(x, w, b)).backward();
  EXPECT_FALSE(w.grad().defined());
  EXPECT_TRUE(x.grad().defined());
  EXPECT_EQ(vals(b.grad()), (std::vector<double>{2, 2}));
}

TEST(Autograd, BackwardReceivesTheNeedsGradMask) {
  Tensor a = leaf({1}, {1});
  Tensor frozen = from_vector({2}, {1}, DType::f64);
  std::vector<bool> seen;
  Tensor out = attach(mul(a.detach(), frozen), "probe", {a, frozen}, [&](const Tensor& g, const std::vector<bool>& n) {
    seen = n;
    return std::vector<Tensor>{g, Tensor()};
  });
  out.backward(ones({1}, DType::f64));
  EXPECT_EQ(seen, (std::vector<bool>{true, false}));
}

TEST(Autograd, GivenGradientForNonScalarAndErrors) {
  Tensor x = leaf({1, 2, 3}, {3});
  Tensor y = mul(x, 2.0);
  EXPECT_THROW(y.backward(), Error);  // non-scalar without a gradient
  EXPECT_THROW(y.backward(ones({2}, DType::f64)), Error);
  y.backward(from_vector({1, 10, 100}, {3}, DType::f64));
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{2, 20, 200}));
  EXPECT_THROW(y.backward(ones({3}, DType::f64)), Error);  // saved state freed
  EXPECT_THROW(sum(from_vector({1}, {1})).backward(), Error);  // nothing requires a gradient
}

TEST(Autograd, GradientsAccumulateUntilZeroed) {
  Tensor x = leaf({1, 2}, {2});
  sum(mul(x, 3.0)).backward();
  sum(mul(x, 3.0)).backward();
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{6, 6}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, InPlaceWritesIntoGradTensorsAreRefused) {
  Tensor x = leaf({1, 2}, {2});
  EXPECT_THROW(x.copy_(zeros({2}, DType::f64)), Error);
  EXPECT_THROW(x.fill_(0), Error);
  NoGradGuard ng;
  x.fill_(0);
  EXPECT_EQ(vals(x), (std::vector<double>{0, 0}));
}

TEST(Autograd, PathsThatCarryNoGradientDoNotStallTheGraph) {
  Tensor x = leaf({1, 2}, {2});
  Tensor y = mul(x, 2.0);
  // A node that gives no gradient to its (differentiable) input.
  Tensor dead = attach(y.detach(), "dead_end", {y}, [](const Tensor&, const std::vector<bool>&) {
    return std::vector<Tensor>{Tensor()};
  });
  Tensor z = mul(mul(x, 3.0), 1.0);
  sum(add(dead, z)).backward();  // y's node receives nothing; z's path still completes
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{3, 3}));
}

TEST(Autograd, LongChainsDoNotRecurse) {
  Tensor x = leaf({1}, {1});
  Tensor y = x;
  for (int i = 0; i < 20000; ++i) y = add(y, 1.0);
  y.backward(ones({1}, DType::f64));
  EXPECT_EQ(vals(x.grad()), (std::vector<double>{1}));
}

}  // namespace
}  // namespace ft
