// Mixed precision (core/autocast.h): the policy table op by op, parameters cast once per cache,
// gradients reaching f32 parameters in f32, and the CPU's bf16/f16 compute: GEMMs accumulate in f32
// (oneDNN's bf16 kernels or the widening path), other ops are f32 math rounded once.
#include <gtest/gtest.h>

#include <cmath>

#include "core/autocast.h"
#include "core/ops.h"
#include "core/optim/grad_scaler.h"
#include "core/optim/optimizer.h"
#include "io/safetensors.h"
#include "kernels/cpu/conv_onednn.h"
#include "kernels/cpu/gemm.h"

namespace ft {
namespace {

Tensor rand_f32(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return randn(s, DType::f32, &g);
}

TEST(Autocast, PolicyTableOpByOp) {
  const Tensor x = rand_f32({4, 8}, 1), w = rand_f32({6, 8}, 2), b = rand_f32({6}, 3);
  const Tensor x64 = x.to(DType::f64), w64 = w.to(DType::f64);
  autocast::Guard guard(DType::bf16);
  const Tensor h = linear(x, w, b);
  EXPECT_EQ(h.dtype(), DType::bf16);  // low-precision list
  EXPECT_EQ(matmul(x, w.transpose(0, 1)).dtype(), DType::bf16);
  EXPECT_EQ(conv2d(rand_f32({1, 2, 5, 5}, 4), rand_f32({3, 2, 3, 3}, 5)).dtype(), DType::bf16);
  const Tensor q = rand_f32({1, 2, 3, 4}, 6);
  EXPECT_EQ(scaled_dot_product_attention(q, q, q, Tensor()).dtype(), DType::bf16);
  EXPECT_EQ(softmax(h, -1).dtype(), DType::f32);  // f32 list
  EXPECT_EQ(log_softmax(h, -1).dtype(), DType::f32);
  EXPECT_EQ(layer_norm(h, Tensor(), Tensor(), 1e-5).dtype(), DType::f32);
  EXPECT_EQ(bias_dropout_add_layer_norm(h, b, rand_f32({4, 6}, 7), Tensor(), Tensor(), 1e-5, 0, false).dtype(),
            DType::f32);
  EXPECT_EQ(sum(h).dtype(), DType::f32);
  const Tensor img = conv2d(rand_f32({2, 3, 4, 4}, 15), rand_f32({3, 3, 1, 1}, 16));
  EXPECT_EQ(batch_norm(img, ones({3}), zeros({3}), zeros({3}), ones({3}), true).dtype(), DType::f32);
  EXPECT_EQ(cross_entropy(h, from_vector_i64({0, 5, 2, 1}, {4})).dtype(), DType::f32);
  EXPECT_EQ(mse_loss(h, zeros({4, 6})).dtype(), DType::f32);
  EXPECT_EQ(tanh(h).dtype(), DType::bf16);  // unlisted: the input's dtype
  EXPECT_EQ(bias_gelu(h, b).dtype(), DType::bf16);  // the bias joins the GEMM output's dtype
  EXPECT_EQ(add(x, 1.0).dtype(), DType::f32);
  EXPECT_EQ(linear(x64, w64).dtype(), DType::f64);  // f64 is never cast
  {
    autocast::Disable off;
    EXPECT_EQ(linear(x, w).dtype(), DType::f32);
  }
  EXPECT_EQ(linear(x, w).dtype(), DType::bf16);
  EXPECT_EQ(autocast::low_dtype(), DType::bf16);
}

// A weight used twice under one cache is cast once; its gradient arrives in f32 and equals the f64
// gradient of the same bf16-rounded operands to the bf16 rounding of the backward's GEMM output.
TEST(Autocast, ParametersAreCastOncePerCacheAndGradientsArriveInF32) {
  Tensor w = rand_f32({5, 16}, 8).requires_grad_();
  const Tensor x1 = rand_f32({3, 16}, 9), x2 = rand_f32({3, 16}, 10);
  autocast::WeightCache cache;
  Tensor loss;
  {
    autocast::Guard guard(DType::bf16, &cache);
    loss = sum(add(linear(x1, w), linear(x2, w)));
  }
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(loss.dtype(), DType::f32);
  loss.backward();
  ASSERT_EQ(w.grad().dtype(), DType::f32);
  // d loss / d w[o][i] = sum over rows of x1 + x2 (each rounded to bf16 first). The backward rounds
  // each linear's weight gradient to bf16 and their sum again (half an ulp each, 2^-9 relative), so the
  // bound is 2^-8 of the magnitudes involved.
  const std::vector<double> a = x1.to(DType::bf16).to_vector<double>(), c = x2.to(DType::bf16).to_vector<double>();
  const std::vector<double> g = w.grad().to_vector<double>();
  for (int64_t o = 0; o < 5; ++o)
    for (int64_t i = 0; i < 16; ++i) {
      double g1 = 0, g2 = 0;
      for (int64_t r = 0; r < 3; ++r) g1 += a[r * 16 + i], g2 += c[r * 16 + i];
      EXPECT_NEAR(g[o * 16 + i], g1 + g2, (std::abs(g1) + std::abs(g2) + std::abs(g1 + g2)) / 256) << o << "," << i;
    }
  // A second micro-batch of the same step reuses the copy (no new cast) through a cast node of its
  // own: its backward runs and the gradients accumulate, exactly doubling here.
  {
    autocast::Guard guard(DType::bf16, &cache);
    loss = sum(add(linear(x1, w), linear(x2, w)));
  }
  loss.backward();
  EXPECT_EQ(cache.size(), 1u);
  const std::vector<double> g2 = w.grad().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_EQ(g2[i], 2 * g[i]) << i;
}

// 4096 products per output: accumulated in f32, the result is within two bf16 roundings of the f64
// sum of the same rounded inputs; a bf16 accumulator would drift by ~sqrt(K) half-ulps.
TEST(Autocast, Bf16GemmAccumulatesInF32) {
  const int64_t m = 7, n = 9, k = 4096;
  const Tensor a = rand_f32({m, k}, 11).to(DType::bf16), b = rand_f32({n, k}, 12).to(DType::bf16);
  const Tensor out = linear(a, b);
  ASSERT_EQ(out.dtype(), DType::bf16);
  const std::vector<double> av = a.to_vector<double>(), bv = b.to_vector<double>(), ov = out.to_vector<double>();
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double want = 0;
      for (int64_t p = 0; p < k; ++p) want += av[i * k + p] * bv[j * k + p];
      EXPECT_NEAR(ov[i * n + j], want, std::abs(want) / 128 + 1e-3) << i << "," << j;
    }
  std::printf("[autocast] bf16 GEMM runs %s\n", kern::gemm_low_native(kern::Elem::bf16) ? "oneDNN's bf16 kernels"
                                                                                        : "the f32 widening path");
}

// bf16 convolution (oneDNN's AMX/AVX512-BF16 kernels where present, else im2col through f32): forward
// and both gradients within bf16 output rounding of the f64 convolution of the same rounded inputs.
TEST(Autocast, Bf16ConvolutionForwardAndBackward) {
  const Tensor x = rand_f32({2, 8, 7, 6}, 21).to(DType::bf16), w = rand_f32({4, 8, 3, 3}, 22).to(DType::bf16);
  const Tensor g = rand_f32({2, 4, 4, 3}, 23).to(DType::bf16);
  Tensor xl = x.detach().requires_grad_(), wl = w.detach().requires_grad_();
  const Tensor y = conv2d(xl, wl, Tensor(), {2, 2}, {1, 1});
  ASSERT_EQ(y.dtype(), DType::bf16);
  y.backward(g);
  Tensor x64 = x.to(DType::f64).requires_grad_(), w64 = w.to(DType::f64).requires_grad_();
  const Tensor y64 = conv2d(x64, w64, Tensor(), {2, 2}, {1, 1});
  y64.backward(g.to(DType::f64));
  auto rel = [](const Tensor& got, const Tensor& want) {
    const std::vector<double> a = got.to_vector<double>(), b = want.to_vector<double>();
    double worst = 0, scale = 0;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i])), scale = std::max(scale, std::abs(b[i]));
    return worst / scale;
  };
  // One bf16 rounding of each output (2^-9 of it, at most 2^-9 of the largest) after f32 accumulation.
  EXPECT_LE(rel(y, y64), 1.0 / 256);
  EXPECT_LE(rel(xl.grad(), x64.grad()), 1.0 / 256);
  EXPECT_LE(rel(wl.grad(), w64.grad()), 1.0 / 256);
  std::printf("[autocast] bf16 conv2d runs %s: forward %.2e, dx %.2e, dw %.2e\n",
              kern::onednn_conv_native(kern::Elem::bf16) ? "oneDNN's bf16 kernels" : "im2col through f32", rel(y, y64),
              rel(xl.grad(), x64.grad()), rel(wl.grad(), w64.grad()));
}

// CPU bf16/f16 elementwise ops, reductions, dropout and scatters are the f32 op rounded once, bit for bit.
TEST(Autocast, CpuLowPrecisionOpsAreF32MathRoundedOnce) {
  for (DType low : {DType::bf16, DType::f16}) {
    const Tensor x = rand_f32({6, 10}, 13).to(low), y = rand_f32({10}, 14).to(low);
    auto f32_then = [&](const Tensor& t) { return t.to(low).to_vector<double>(); };
    const Tensor xf = x.to(DType::f32), yf = y.to(DType::f32);
    EXPECT_EQ(add(x, y).to_vector<double>(), f32_then(add(xf, yf))) << low;
    EXPECT_EQ(tanh(x).to_vector<double>(), f32_then(tanh(xf))) << low;
    EXPECT_EQ(sum(x, {0}).to_vector<double>(), f32_then(sum(xf, {0}))) << low;
    Generator g1(3), g2(3);
    EXPECT_EQ(dropout(x, 0.3, true, &g1).to_vector<double>(), f32_then(dropout(xf, 0.3, true, &g2))) << low;
    const Tensor idx = from_vector_i64({4, 0, 4, 2, 1, 3}, {6});
    EXPECT_EQ(index_scatter(x, 5, idx).to_vector<double>(), f32_then(index_scatter(xf, 5, idx))) << low;
  }
}

// The scaler's state machine against torch.amp.GradScaler on a scripted run
// (tests/golden/gen_grad_scaler.py): infs and a NaN at scripted steps, growth_interval 3. Scale,
// growth tracker, skipped steps and the parameter after every step are PyTorch's, bit for bit.
TEST(GradScaler, StateMachineMatchesTorchOnScriptedOverflows) {
  const io::SafetensorsFile fx = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/grad_scaler.safetensors");
  const Tensor xs = fx.tensors.at("x").to(DType::f32);
  const std::vector<double> scales = fx.tensors.at("scale").to_vector<double>();
  const std::vector<int64_t> trackers = fx.tensors.at("growth_tracker").to_vector<int64_t>();
  const std::vector<double> skipped = fx.tensors.at("skipped").to_vector<double>();
  const Tensor params = fx.tensors.at("params").to(DType::f32);
  Tensor p = from_vector({0.5, -1.0, 2.0, 0.25}, {4}).requires_grad_();
  optim::SGD opt({optim::ParamGroup{{p}, 0.5, 0.0, {"p"}}});
  optim::GradScaler scaler({1024.0, 2.0, 0.5, 3});
  for (int64_t t = 0; t < xs.size(0); ++t) {
    opt.zero_grad();
    scaler.scale(sum(mul(p, xs.select(0, t)))).backward();
    const bool found_inf = scaler.unscale({p});
    if (!found_inf) opt.step();
    scaler.update(found_inf);
    EXPECT_EQ(found_inf, skipped[t] != 0) << "step " << t;
    EXPECT_EQ(scaler.get_scale(), scales[t]) << "step " << t;
    EXPECT_EQ(scaler.growth_tracker(), trackers[t]) << "step " << t;
    EXPECT_EQ(p.to_vector<double>(), params.select(0, t).to_vector<double>()) << "step " << t;
  }
  EXPECT_THROW(scaler.load_state(-1, 0), Error);
  scaler.load_state(4096, 2);
  scaler.update(false);
  EXPECT_EQ(scaler.get_scale(), 8192);
}

}  // namespace
}  // namespace ft
