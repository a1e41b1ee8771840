// The CUDA flash-attention kernels (kernels/cuda/attention.cu) on the SIMT emulator, at shapes the op
// table's small cases do not reach: several query and key tiles with partial ones, head dims padded
// to 32, 64 and 128, BERT's padding mask, per-sequence lengths and dropout. Forward and every
// gradient are compared with the composite definition evaluated in f64 on the CPU, which draws the
// same dropout mask from the same generator.
#include <gtest/gtest.h>

#include <cmath>

#include "core/backend.h"
#include "core/cuda/cuda_backend.h"
#include "core/ops.h"

namespace ft {
namespace {

const Device kCuda(DeviceType::cuda, 0);

struct Shape5 {
  int64_t b, h, tq, tk, d;
  bool mask;
  std::vector<int64_t> lengths;
  double p;
};

// ||got - want|| / ||want|| over the whole tensor.
double rel_l2(const Tensor& got, const Tensor& want) {
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < w.size(); ++i) num += (g[i] - w[i]) * (g[i] - w[i]), den += w[i] * w[i];
  return std::sqrt(num / den);
}

struct Grads {
  Tensor out, dq, dk, dv;
};

// One forward and backward of sum(out * r), on `device` in the dtype of q, k, v.
Grads run(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, const Tensor& r, const Shape5& s,
        Device device, bool composite) {
  Tensor qd = q.to(device).detach().requires_grad_(true), kd = k.to(device).detach().requires_grad_(true);
  Tensor vd = v.to(device).detach().requires_grad_(true);
  const Tensor md = mask.defined() ? mask.to(device) : mask;
  Generator gen(7);
  Tensor out = composite ? attention_composite(qd, kd, vd, md, s.p, true, &gen, s.lengths)
                         : scaled_dot_product_attention(qd, kd, vd, md, s.p, true, &gen, s.lengths);
  sum(mul(out, r.to(out.dtype()).to(device))).backward();
  return {out.to(kCPU), qd.grad().to(kCPU), kd.grad().to(kCPU), vd.grad().to(kCPU)};
}

class FlashAttentionEmu : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(install_cuda_backend()); }
};

// Bounds: twice the dtype's unit roundoff u (bf16 2^-8, f16 2^-11) in relative L2 error; f32 to
// 1e-5 as the goldens. The kernel rounds the probabilities to the input dtype before the P V
// product (as FlashAttention does) and each result once, accumulating in f32: measured 0.5u to 0.85u
// for bf16 and f16 and about 8 f32 u over these shapes (the printed lines).
double bound(DType dt) {
  switch (dt) {
    case DType::f32: return 1e-5;
    case DType::f16: return 2 * std::ldexp(1.0, -11);
    default: return 2 * std::ldexp(1.0, -8);
  }
}

TEST_F(FlashAttentionEmu, MatchesTheF64CompositeAcrossTilesHeadDimsAndDtypes) {
  for (kern::Elem t : {kern::Elem::f32, kern::Elem::bf16, kern::Elem::f16})
    ASSERT_STREQ(backend_for(kCuda).implementation(kern::OptionalOp::attention, t), "flash");
  const std::vector<Shape5> shapes = {
      {2, 2, 80, 80, 64, true, {80, 37}, 0.1},  // two query and key tiles, a partial one, BERT's padding
      {1, 2, 70, 130, 128, false, {}, 0.0},     // three key tiles, head dim 128
      {2, 1, 33, 33, 40, true, {}, 0.2},        // head dim padded to 64
      {1, 3, 9, 20, 8, true, {5}, 0.3},         // the tiny-BERT shapes: mostly padding in one tile
  };
  Generator gen(11);
  for (const Shape5& s : shapes) {
    const Tensor q = randn({s.b, s.h, s.tq, s.d}, DType::f32, &gen), k = randn({s.b, s.h, s.tk, s.d}, DType::f32, &gen);
    const Tensor v = randn({s.b, s.h, s.tk, s.d}, DType::f32, &gen), r = randn({s.b, s.h, s.tq, s.d}, DType::f32, &gen);
    Tensor mask;
    if (s.mask) {  // HF's additive padding mask: the last quarter of each sequence's keys left out
      std::vector<double> m(static_cast<size_t>(s.b * s.tk), 0.0);
      for (int64_t i = 0; i < s.b; ++i)
        for (int64_t j = s.tk - s.tk / 4 + i; j < s.tk; ++j) m[i * s.tk + j] = -10000.0;
      mask = from_vector(m, {s.b, 1, 1, s.tk});
    }
    for (DType dt : {DType::f32, DType::bf16, DType::f16}) {
      // The reference sees the inputs as rounded to dt; the mask stays f32 (autocast keeps it).
      const Tensor ql = q.to(dt), kl = k.to(dt), vl = v.to(dt);
      const Grads want = run(ql.to(DType::f64), kl.to(DType::f64), vl.to(DType::f64),
                           mask.defined() ? mask.to(DType::f64) : mask, r.to(DType::f64), s, kCPU, true);
      const Grads got = run(ql, kl, vl, mask, r, s, kCuda, false);
      ASSERT_EQ(got.out.dtype(), dt);
      const double e[4] = {rel_l2(got.out, want.out), rel_l2(got.dq, want.dq), rel_l2(got.dk, want.dk),
                           rel_l2(got.dv, want.dv)};
      std::printf("[flash] %ldx%ldx%ldx%ld keys %ld %s: out %.2e dq %.2e dk %.2e dv %.2e (bound %.2e)\n", s.b, s.h,
                  s.tq, s.d, s.tk, dtype_name(dt), e[0], e[1], e[2], e[3], bound(dt));
      for (double x : e) EXPECT_LE(x, bound(dt)) << s.b << "x" << s.h << "x" << s.tq << "x" << s.d << " " << dt;
    }
  }
}

// One block per (batch, head) writes every gradient of that head, in a fixed order: no atomics, the
// same bits on every run and in every emulator schedule.
TEST_F(FlashAttentionEmu, BackwardIsDeterministic) {
  const Shape5 s{2, 2, 80, 80, 64, true, {80, 37}, 0.1};
  Generator gen(3);
  const Tensor q = randn({2, 2, 80, 64}, DType::f32, &gen).to(DType::bf16), k = randn({2, 2, 80, 64}, DType::f32, &gen).to(DType::bf16);
  const Tensor v = randn({2, 2, 80, 64}, DType::f32, &gen).to(DType::bf16), r = randn({2, 2, 80, 64}, DType::f32, &gen);
  const Grads a = run(q, k, v, Tensor(), r, s, kCuda, false), b = run(q, k, v, Tensor(), r, s, kCuda, false);
  EXPECT_EQ(a.dq.to_vector<double>(), b.dq.to_vector<double>());
  EXPECT_EQ(a.dk.to_vector<double>(), b.dk.to_vector<double>());
  EXPECT_EQ(a.dv.to_vector<double>(), b.dv.to_vector<double>());
}

TEST_F(FlashAttentionEmu, HeadDimsAbove128AreAClearError) {
  const Tensor q = zeros({1, 1, 4, 160}, DType::bf16).to(kCuda);
  try {
    scaled_dot_product_attention(q, q, q, Tensor());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("head dim 160 is not supported by the CUDA flash kernel"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ft
