// Op semantics worth pinning beyond the harness: known values, stability, ties, determinism.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "core/ops.h"

namespace ft {
namespace {

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

TEST(Ops, GeluKnownValues) {
  EXPECT_NEAR(gelu(from_vector({1}, {1}, DType::f64)).item(), 0.8413447460685429, 1e-15);
  EXPECT_NEAR(gelu(from_vector({1}, {1}, DType::f64), GeluApprox::tanh).item(), 0.8411919906082768, 1e-15);
}

TEST(Ops, CrossEntropyKnownValueAndAllIgnored) {
  Tensor z = from_vector({1, 2, 3}, {1, 3}, DType::f64);
  EXPECT_NEAR(cross_entropy(z, from_vector_i64({2}, {1})).item(), std::log(std::exp(1) + std::exp(2) + std::exp(3)) - 3, 1e-15);
  EXPECT_TRUE(std::isnan(cross_entropy(z, from_vector_i64({-100}, {1})).item()));
}

TEST(Ops, SoftmaxAndLossesAreStableForLargeInputs) {
  auto p = vals(softmax(from_vector({1000, 1001}, {1, 2})));
  EXPECT_NEAR(p[0] + p[1], 1.0, 1e-6);
  EXPECT_NEAR(p[1], 1 / (1 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(binary_cross_entropy_with_logits(from_vector({100}, {1}), from_vector({0}, {1})).item(), 100, 1e-4);
  EXPECT_NEAR(binary_cross_entropy_with_logits(from_vector({-100}, {1}), from_vector({0}, {1})).item(), 0, 1e-6);
}

TEST(Ops, MaxTakesTheFirstOfTiesAndPropagatesNaN) {
  auto [v, i] = max(from_vector({1, 3, 3, 2}, {1, 4}), 1);
  EXPECT_EQ(v.item(), 3);
  EXPECT_EQ(i.to_vector<int64_t>()[0], 1);
  EXPECT_TRUE(std::isnan(max(from_vector({1, NAN, 5}, {3})).item()));
}

TEST(Ops, VarianceCorrectionAndMatmulOfVectors) {
  Tensor x = from_vector({1, 2, 3, 4}, {4}, DType::f64);
  EXPECT_DOUBLE_EQ(var(x).item(), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(var(x, {}, 0).item(), 1.25);
  Tensor d = matmul(x, x);
  EXPECT_EQ(d.dim(), 0);
  EXPECT_EQ(d.item(), 30);
}

TEST(Ops, DropoutMasksFollowTheGeneratorState) {
  Tensor x = ones({1000});
  Generator g1(3), g2(3);
  Tensor a = dropout(x, 0.25, true, &g1), b = dropout(x, 0.25, true, &g2);
  EXPECT_EQ(vals(a), vals(b));
  Tensor c = dropout(x, 0.25, true, &g1);  // next offset: a different mask
  EXPECT_NE(vals(a), vals(c));
  double kept = 0;
  for (double v : vals(a)) {
    EXPECT_TRUE(v == 0 || std::abs(v - 1 / 0.75) < 1e-6);
    kept += v != 0;
  }
  EXPECT_NEAR(kept / 1000, 0.75, 0.05);
  EXPECT_TRUE(dropout(x, 0.5, false).same(x));
  EXPECT_EQ(vals(dropout(x, 1.0, true)), std::vector<double>(1000, 0.0));
  EXPECT_THROW(dropout(x, 1.5, true), Error);
}

TEST(Ops, EmbeddingPaddingRowGetsNoGradient) {
  Tensor w = ones({4, 2}, TensorOptions(DType::f64).with_requires_grad());
  sum(embedding(from_vector_i64({0, 2, 0, 3}, {2, 2}), w, /*padding_idx=*/0)).backward();
  EXPECT_EQ(vals(w.grad()), (std::vector<double>{0, 0, 0, 0, 1, 1, 1, 1}));
}

TEST(Ops, ScatterAddBackwardIsBitwiseDeterministicAcrossThreadCounts) {
  Generator g(9);
  Tensor w = randn({50, 300}, DType::f32, &g).requires_grad_();
  std::vector<int64_t> ids(20000);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 7919) % 50);
  Tensor idx = from_vector_i64(ids, {20000});
  Tensor gout = randn({20000, 300}, DType::f32, &g);
  auto grad_with = [&](int threads) {
    omp_set_num_threads(threads);
    w.zero_grad();
    embedding(idx, w).backward(gout);
    return w.grad().to_vector<float>();
  };
  const auto one = grad_with(1), two = grad_with(2);
  omp_set_num_threads(omp_get_num_procs());
  EXPECT_EQ(one, two);
}

TEST(Ops, FusedAttentionEqualsItsCompositeForwardAndBackward) {
  Generator g(21);
  auto leaf = [&](Shape s) { return randn(s, DType::f64, &g).requires_grad_(); };
  Tensor q = leaf({2, 3, 5, 8}), k = leaf({2, 3, 7, 8}), v = leaf({2, 3, 7, 8});
  Tensor mask = mul(lt(rand({2, 1, 1, 7}, DType::f64, &g), 0.3).to(DType::f64), -1e9);
  Tensor q2 = q.detach().requires_grad_(), k2 = k.detach().requires_grad_(), v2 = v.detach().requires_grad_();
  Tensor fused = scaled_dot_product_attention(q, k, v, mask);
  Tensor composite = attention_composite(q2, k2, v2, mask);
  EXPECT_NE(fused.grad_fn()->name(), composite.grad_fn()->name());  // really two implementations
  Tensor w = randn(fused.shape(), DType::f64, &g);
  sum(mul(fused, w)).backward();
  sum(mul(composite, w)).backward();
  auto close = [](const Tensor& a, const Tensor& b) {
    auto x = a.to_vector<double>(), y = b.to_vector<double>();
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs(x[i] - y[i]));
    return worst;
  };
  EXPECT_LT(close(fused, composite), 1e-12);
  EXPECT_LT(close(q.grad(), q2.grad()), 1e-12);
  EXPECT_LT(close(k.grad(), k2.grad()), 1e-12);
  EXPECT_LT(close(v.grad(), v2.grad()), 1e-12);
}

// max |a - b| over all elements, in f64.
double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to(DType::f64).to_vector<double>(), y = b.to(DType::f64).to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// With dropout the fused kernel must draw the composite's mask: with v = I (d = tk) the output
// is the dropped probability matrix itself, so its zeros are the mask, element for element.
TEST(Ops, FusedAttentionWithDropoutDrawsTheCompositesMask) {
  for (DType dt : {DType::f64, DType::f32}) {
    Generator g(3);
    const int64_t b = 2, h = 3, tq = 9, tk = 21;
    Tensor q = randn({b, h, tq, tk}, dt, &g), k = randn({b, h, tk, tk}, dt, &g);
    Tensor eye = zeros({tk, tk}, TensorOptions(dt));
    for (int64_t i = 0; i < tk; ++i) eye.narrow(0, i, 1).narrow(1, i, 1).fill_(1);
    Tensor v = eye.view({1, 1, tk, tk}).expand({b, h, tk, tk}).contiguous();
    Generator g1(11), g2(11);
    g1.advance(5), g2.advance(5);  // a non-zero offset, as after earlier layers
    Tensor fused = scaled_dot_product_attention(q, k, v, Tensor(), 0.4, true, &g1);
    Tensor composite = attention_composite(q, k, v, Tensor(), 0.4, true, &g2);
    EXPECT_EQ(g1.advance(0), g2.advance(0)) << "the generators must advance alike";
    auto f = fused.to(DType::f64).to_vector<double>(), c = composite.to(DType::f64).to_vector<double>();
    int64_t zeros_seen = 0;
    for (size_t i = 0; i < f.size(); ++i) {
      ASSERT_EQ(f[i] == 0, c[i] == 0) << dtype_name(dt) << " element " << i;
      zeros_seen += f[i] == 0;
      EXPECT_NEAR(f[i], c[i], dt == DType::f64 ? 1e-13 : 2e-6);
    }
    const double dropped = static_cast<double>(zeros_seen) / static_cast<double>(f.size());
    EXPECT_NEAR(dropped, 0.4, 0.05) << "a mask that drops about p of the probabilities";
  }
}

TEST(Ops, FusedAttentionWithDropoutEqualsItsCompositeBackward) {
  for (DType dt : {DType::f64, DType::f32}) {
    Generator g(4);
    auto leaf = [&](Shape s) { return randn(s, dt, &g).requires_grad_(); };
    // [b, t, h, d] projections viewed per head, as BERT passes them.
    Tensor q = leaf({2, 6, 3, 16}), k = leaf({2, 6, 3, 16}), v = leaf({2, 6, 3, 16});
    Tensor q2 = q.detach().requires_grad_(), k2 = k.detach().requires_grad_(), v2 = v.detach().requires_grad_();
    Tensor mask = mul(lt(rand({2, 1, 1, 6}, DType::f64, &g), 0.3).to(dt), -1e9);
    auto heads = [](const Tensor& x) { return x.permute({0, 2, 1, 3}); };
    Generator g1(9), g2(9);
    Tensor fused = scaled_dot_product_attention(heads(q), heads(k), heads(v), mask, 0.2, true, &g1);
    Tensor composite = attention_composite(heads(q2), heads(k2), heads(v2), mask, 0.2, true, &g2);
    Tensor w = randn(fused.shape(), dt, &g);
    sum(mul(fused, w)).backward();
    sum(mul(composite, w)).backward();
    const double tol = dt == DType::f64 ? 1e-12 : 2e-5;
    EXPECT_LT(max_abs_diff(fused, composite), tol) << dtype_name(dt);
    EXPECT_LT(max_abs_diff(q.grad(), q2.grad()), tol) << dtype_name(dt);
    EXPECT_LT(max_abs_diff(k.grad(), k2.grad()), tol) << dtype_name(dt);
    EXPECT_LT(max_abs_diff(v.grad(), v2.grad()), tol) << dtype_name(dt);
  }
}

// The fused transformer-layer ops against their composites, in f64 and f32, training (dropout
// drawn from twin generators) and not, forward and every gradient.
TEST(Ops, FusedBiasGeluAndBiasDropoutLayerNormEqualTheirComposites) {
  for (DType dt : {DType::f64, DType::f32}) {
    for (bool training : {true, false}) {
      Generator g(12);
      auto leaf = [&](Shape s) { return randn(s, dt, &g).requires_grad_(); };
      const std::vector<Tensor> in = {leaf({4, 6, 40}), leaf({40}), leaf({4, 6, 40}), leaf({40}), leaf({40})};
      std::vector<Tensor> twin;
      for (const Tensor& t : in) twin.push_back(t.detach().requires_grad_());
      Generator g1(31), g2(31);
      Tensor f = bias_dropout_add_layer_norm(bias_gelu(in[0], in[1]), in[1], in[2], in[3], in[4], 1e-12, 0.3,
                                             training, &g1);
      Tensor c = bias_dropout_add_layer_norm_composite(bias_gelu_composite(twin[0], twin[1]), twin[1], twin[2],
                                                       twin[3], twin[4], 1e-12, 0.3, training, &g2);
      EXPECT_NE(f.grad_fn()->name(), c.grad_fn()->name());
      Tensor w = randn(f.shape(), dt, &g);
      sum(mul(f, w)).backward();
      sum(mul(c, w)).backward();
      const double tol = dt == DType::f64 ? 1e-11 : 5e-5;
      EXPECT_LT(max_abs_diff(f, c), tol) << dtype_name(dt) << " training " << training;
      for (size_t i = 0; i < in.size(); ++i)
        EXPECT_LT(max_abs_diff(in[i].grad(), twin[i].grad()), tol) << dtype_name(dt) << " input " << i;
    }
  }
}

TEST(Ops, OneHotEqAndComparisons) {
  EXPECT_EQ(one_hot(from_vector_i64({2, 0}, {2}), 3).to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1, 0, 0}));
  EXPECT_THROW(one_hot(from_vector_i64({3}, {1}), 3), Error);
  EXPECT_EQ(vals(eq(from_vector_i64({1, 2, 3}, {3}), from_vector_i64({1, 0, 3}, {3}))), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(eq(ones({2}), ones({2})).dtype(), DType::boolean);
  EXPECT_EQ(vals(masked_fill(ones({3}), gt(arange(0, 3), 0.5), -1)), (std::vector<double>{1, -1, -1}));
}

TEST(Ops, ClampWithOneBoundAndIndexSelectOfIntegers) {
  EXPECT_EQ(vals(clamp(from_vector({-3, 0, 3}, {3}), std::nullopt, 1.0)), (std::vector<double>{-3, 0, 1}));
  EXPECT_EQ(index_select(from_vector_i64({10, 20, 30}, {3}), 0, from_vector_i64({2, 2, 0}, {3})).to_vector<int64_t>(),
            (std::vector<int64_t>{30, 30, 10}));
}

}  // namespace
}  // namespace ft
