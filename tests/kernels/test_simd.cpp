// The vectorised CPU kernels (kernels/cpu/simd): every ISA this CPU has gives the scalar table's
// bits for elementwise kernels and dropout masks, and the scalar table is within its stated error
// of f64 math. Machines without AVX-512 (or AVX2) test what they have and say which ISAs they skip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/common/half.h"
#include "kernels/common/ops.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/indexing.h"
#include "kernels/cpu/simd/kernels.h"

namespace ft::kern::simd {
namespace {

std::vector<Isa> isas() {
  std::vector<Isa> v;
  for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (isa_supported(i)) v.push_back(i);
  return v;
}

// Values over the ranges the kernels see, plus the special ones, in a length with a ragged tail.
std::vector<float> sweep(float lo, float hi, int n) {
  std::vector<float> v;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int i = 0; i < n; ++i) v.push_back(u(rng));
  for (float s : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, 0.39999f, 0.4f, 0.40001f, 88.7f, 88.8f, -87.3f, -103.0f,
                  -104.5f, 200.0f, -200.0f})
    v.push_back(s);
  v.push_back(std::numeric_limits<float>::infinity());
  v.push_back(-std::numeric_limits<float>::infinity());
  v.push_back(std::numeric_limits<float>::quiet_NaN());
  return v;  // n + 18 elements: not a multiple of 8 or 16 for the n used here
}

uint32_t bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

// |got - want| in units of the last place of want (f32), 0 for matching infinities / NaNs.
double ulps(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : 1e30;
  if (std::isinf(want)) return got == want ? 0 : 1e30;
  const double w = std::abs(want);
  if (w < std::numeric_limits<float>::min()) return std::abs(got - want) / std::numeric_limits<float>::denorm_min();
  const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(w)) - 23);
  return std::abs(got - want) / ulp;
}

TEST(Simd, ReportsItsIsas) {
  std::printf("[simd] detected %s, active %s\n", isa_name(detected_isa()), isa_name(active_isa()));
  for (Isa i : {Isa::avx2, Isa::avx512})
    if (!isa_supported(i)) std::printf("[simd] this CPU has no %s: its kernels are not run here\n", isa_name(i));
  EXPECT_TRUE(isa_supported(Isa::scalar));
  EXPECT_THROW(parse_isa("sse9"), ft::Error);
}

TEST(Simd, UnaryMatchesScalarBitsAndF64) {
  struct Op {
    UnaryOp op;
    float lo, hi;
    double max_ulps;  // against f64, over results that are normal floats
    double (*ref)(double);
  };
  const Op ops[] = {
      {UnaryOp::exp, -110, 90, 2, [](double x) { return std::exp(x); }},
      {UnaryOp::tanh, -12, 12, 3, [](double x) { return std::tanh(x); }},
      {UnaryOp::sigmoid, -30, 30, 4, [](double x) { return 1 / (1 + std::exp(-x)); }},
      // f64 references that do not cancel in the negative tails either.
      {UnaryOp::gelu_tanh, -12, 12, 1e9,  // ulps: see the relative bound below
       [](double x) { return x / (1 + std::exp(-2 * kGeluK * (x + kGeluC * x * x * x))); }},
      {UnaryOp::gelu_erf, -12, 12, 1e9, [](double x) { return 0.5 * x * std::erfc(-x * kInvSqrt2); }},
  };
  for (const Op& o : ops) {
    const std::vector<float> x = sweep(o.lo, o.hi, 4003);
    std::vector<float> want(x.size()), got(x.size());
    ASSERT_TRUE(kernels_for(Isa::scalar).unary(o.op, x.data(), static_cast<int64_t>(x.size()), want.data()));
    double worst = 0, worst_rel = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double r64 = o.ref(x[i]);
      // Beyond the float range the f32 answer is inf (exp overflows at 88.72).
      const double r = std::isinf(static_cast<float>(r64)) ? static_cast<float>(r64) : r64;
      if (std::abs(r) >= std::numeric_limits<float>::min() || std::isinf(r) || std::isnan(r)) {
        worst = std::max(worst, ulps(want[i], r));
      }
      // Relative error, scaled by what the tail allows: beyond |x| = 5 the GELUs are e^-(x^2/2)
      // small and the f32 rounding of the exponent's own argument (x^2/2 or 2u, up to 140) alone
      // moves the result by up to 2e-5 relative, as it does in any f32 implementation.
      if (std::isfinite(r) && std::abs(r) > 1e-30) {
        const bool tail = (o.op == UnaryOp::gelu_erf || o.op == UnaryOp::gelu_tanh) && std::abs(x[i]) > 5;
        worst_rel = std::max(worst_rel, std::abs(want[i] - r) / std::abs(r) / (tail ? 25 : 1));
      }
      if (std::isnan(x[i])) {
        EXPECT_TRUE(std::isnan(want[i])) << "op " << static_cast<int>(o.op);
      }
    }
    std::printf("[simd] op %d: worst %.2f ulp, %.3g relative\n", static_cast<int>(o.op), worst, worst_rel);
    if (o.max_ulps < 1e9) {
      EXPECT_LE(worst, o.max_ulps) << "op " << static_cast<int>(o.op);
    }
    // GELU's negative tail is x * erfc(|x| / sqrt 2) / 2: relative error of the erfc fit (1.2e-7)
    // plus a few roundings, far below what an f32 loss of the op table tolerates.
    EXPECT_LE(worst_rel, 2e-6) << "op " << static_cast<int>(o.op);
    for (Isa isa : isas()) {
      kernels_for(isa).unary(o.op, x.data(), static_cast<int64_t>(x.size()), got.data());
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_EQ(bits(got[i]), bits(want[i])) << isa_name(isa) << " op " << static_cast<int>(o.op) << " x " << x[i];
    }
  }
  float out;
  EXPECT_FALSE(kernels().unary(UnaryOp::neg, &out, 1, &out));  // not in the table: the caller's loop
}

TEST(Simd, GeluGradAndBias) {
  const int64_t rows = 7, n = 37;
  std::vector<float> x = sweep(-8, 8, rows * n - 18), g = sweep(-1, 1, rows * n - 18), bias(n);
  x.resize(rows * n), g.resize(rows * n);
  for (auto* v : {&x, &g})
    for (float& e : *v)
      if (!std::isfinite(e) || std::abs(e) > 50) e = 0.5f;
  for (int64_t c = 0; c < n; ++c) bias[c] = 0.1f * static_cast<float>(c) - 1.5f;
  for (bool exact : {true, false}) {
    std::vector<float> y0(rows * n), d0(rows * n), y(rows * n), d(rows * n);
    kernels_for(Isa::scalar).bias_gelu(exact, x.data(), bias.data(), rows, n, y0.data());
    kernels_for(Isa::scalar).gelu_grad(exact, g.data(), x.data(), bias.data(), rows, n, d0.data());
    for (int64_t i = 0; i < rows * n; ++i) {
      const double v = static_cast<double>(x[i] + bias[i % n]);
      const double fy = exact ? gelu_erf(v) : gelu_tanh(v), fd = g[i] * (exact ? gelu_erf_d(v) : gelu_tanh_d(v));
      EXPECT_NEAR(y0[i], fy, 2e-6 * std::max(1.0, std::abs(fy))) << i;
      EXPECT_NEAR(d0[i], fd, 4e-6 * std::max(1.0, std::abs(fd))) << i;
    }
    for (Isa isa : isas()) {
      kernels_for(isa).bias_gelu(exact, x.data(), bias.data(), rows, n, y.data());
      kernels_for(isa).gelu_grad(exact, g.data(), x.data(), bias.data(), rows, n, d.data());
      EXPECT_EQ(std::memcmp(y.data(), y0.data(), y.size() * 4), 0) << isa_name(isa);
      EXPECT_EQ(std::memcmp(d.data(), d0.data(), d.size() * 4), 0) << isa_name(isa);
    }
  }
}

TEST(Simd, DropoutMaskIsTheScalarPhiloxMask) {
  for (float p : {0.1f, 0.5f, 0.9f, 1e-12f, 1.0f}) {
    for (uint64_t offset : {uint64_t(0), uint64_t(1), uint64_t(6), uint64_t(0xFFFFFFFFull * 4 - 3)}) {
      const int64_t n = 100003;  // chunks of kGrain plus a ragged end
      std::vector<uint8_t> want(n), got(n);
      dropout_mask_reference(0x1234ABCD5678ull, offset, p, n, want.data());  // one Philox call per value
      for (Isa isa : isas()) {
        kernels_for(isa).dropout_mask(0x1234ABCD5678ull, offset, p, n, got.data());
        ASSERT_EQ(got, want) << isa_name(isa) << " p " << p << " offset " << offset;
      }
    }
  }
  EXPECT_EQ(keep_threshold(1.0f), uint64_t(1) << 32);
  EXPECT_EQ(keep_threshold(0.0f), 0u);
}

TEST(Simd, SumSquaresSameOnEveryIsa) {
  std::vector<float> x = sweep(-3, 3, 300001);
  x.resize(300001);
  double ref = 0;
  for (float v : x) ref += static_cast<double>(v) * v;
  const double want = kernels_for(Isa::scalar).sum_squares(x.data(), static_cast<int64_t>(x.size()));
  EXPECT_NEAR(want, ref, 1e-6 * ref);
  for (Isa isa : isas()) EXPECT_EQ(kernels_for(isa).sum_squares(x.data(), static_cast<int64_t>(x.size())), want);
}

// f32 <-> bf16 on every ISA gives kernels/common/half.h's bits: ties to even, NaN kept quiet, infs,
// subnormals (no flush to zero), the largest finite values rounding to inf.
TEST(Simd, Bf16ConversionsAreHalfHsBitsOnEveryIsa) {
  std::vector<float> x = sweep(-3e38f, 3e38f, 4099);
  const std::vector<uint32_t> special = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00008000u,
                                         0x00018000u, 0x3f808000u, 0x3f818000u, 0x7f7fffffu, 0xff7fffffu,
                                         0x7f800000u, 0xff800000u, 0x7fc00001u, 0x7f800001u, 0xffbfffffu};
  for (uint32_t u : special) {
    float f;
    std::memcpy(&f, &u, 4);
    x.push_back(f);
  }
  for (int i = 0; i < 5000; ++i) x.push_back(static_cast<float>(i) * 1.37e-3f - 3.1f);
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint16_t> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = f32_to_bf16(x[i]);
  std::vector<float> back_want(x.size());
  for (size_t i = 0; i < x.size(); ++i) back_want[i] = bf16_to_f32(want[i]);
  for (Isa isa : isas()) {
    std::vector<uint16_t> got(x.size());
    kernels_for(isa).f32_to_bf16(x.data(), n, got.data());
    EXPECT_EQ(got, want) << isa_name(isa);
    std::vector<float> back(x.size());
    kernels_for(isa).bf16_to_f32(want.data(), n, back.data());
    EXPECT_EQ(std::memcmp(back.data(), back_want.data(), x.size() * 4), 0) << isa_name(isa);
  }
}

TEST(Simd, SoftmaxRows) {
  const int64_t rows = 33, n = 53;
  std::vector<float> x = sweep(-20, 20, rows * n);
  x.resize(rows * n);
  for (float& e : x)
    if (!std::isfinite(e) || std::abs(e) > 50) e = -1.0f;
  for (Isa isa : isas()) {
    std::vector<float> y(rows * n);
    kernels_for(isa).softmax(x.data(), rows, n, y.data());
    for (int64_t r = 0; r < rows; ++r) {
      double mx = -INFINITY, s = 0;
      for (int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(x[r * n + i]));
      for (int64_t i = 0; i < n; ++i) s += std::exp(x[r * n + i] - mx);
      for (int64_t i = 0; i < n; ++i) {
        const double want = std::exp(x[r * n + i] - mx) / s;
        ASSERT_NEAR(y[r * n + i], want, 1e-6 * want + 1e-12) << isa_name(isa) << " row " << r;
      }
    }
  }
}

}  // namespace
}  // namespace ft::kern::simd

namespace ft::kern::simd {
namespace {

// The tiled f32 attention of every ISA against the reference loops in f64, forward and backward,
// with dropout, a broadcast mask, strided (heads-view) operands and ragged key counts.
// With and without per-sequence lengths (keys beyond left out, rows beyond zero).
TEST(Simd, AttentionMatchesTheReferenceOnEveryIsa) {
  for (const std::vector<int64_t>& lens : std::vector<std::vector<int64_t>>{{}, {5, 12}}) {
    const int64_t b = 2, h = 3, tq = 7, tk = 19, d = 20;
    std::mt19937 rng(5);
    std::normal_distribution<double> nd;
    // [b, t, h, d] storage, read as [b, h, t, d]: strides (t*h*d, d, h*d).
    auto fill = [&](int64_t t) {
      std::vector<double> x(static_cast<size_t>(b * t * h * d));
      for (double& e : x) e = nd(rng);
      return x;
    };
    const std::vector<double> q = fill(tq), k = fill(tk), v = fill(tk), dout = fill(tq);
    std::vector<double> mask(static_cast<size_t>(b * tk));
    for (size_t i = 0; i < mask.size(); ++i) mask[i] = i % 5 == 3 ? -1e9 : 0.0;
    auto view = [&](int64_t t) { return AttnStrides{t * h * d, d, h * d}; };
    auto args = [&](Elem e) {
      AttentionArgs a;
      a.dtype = e, a.batch = b, a.heads = h, a.tq = tq, a.tk = tk, a.d = d, a.scale = 1 / std::sqrt(double(d));
      a.qs = a.os = a.dos = a.dqs = view(tq), a.ks = a.vs = a.dks = a.dvs = view(tk);
      a.mask_stride[0] = tk, a.mask_stride[3] = 1;
      a.dropout_p = 0.25, a.seed = 99, a.offset = 13;
      a.lengths = lens.empty() ? nullptr : lens.data();
      return a;
    };
    std::vector<double> out(q.size()), lse(static_cast<size_t>(b * h * tq)), dq(q.size()), dk(k.size()), dv(v.size());
    AttentionArgs r = args(Elem::f64);
    r.q = q.data(), r.k = k.data(), r.v = v.data(), r.mask = mask.data(), r.out = out.data(), r.lse = lse.data();
    attention_fwd<double>(r);
    r.dout = dout.data(), r.dq = dq.data(), r.dk = dk.data(), r.dv = dv.data();
    attention_bwd<double>(r);
    auto to_f = [](const std::vector<double>& x) { return std::vector<float>(x.begin(), x.end()); };
    const std::vector<float> qf = to_f(q), kf = to_f(k), vf = to_f(v), mf = to_f(mask), gf = to_f(dout);
    auto worst = [](const std::vector<float>& got, const std::vector<double>& want) {
      double num = 0, den = 0;
      for (size_t i = 0; i < want.size(); ++i) num += (got[i] - want[i]) * (got[i] - want[i]), den += want[i] * want[i];
      return num / den;
    };
    for (Isa isa : isas()) {
      std::vector<float> o(q.size()), l(lse.size()), gq(q.size()), gk(k.size()), gv(v.size());
      AttentionArgs a = args(Elem::f32);
      a.q = qf.data(), a.k = kf.data(), a.v = vf.data(), a.mask = mf.data(), a.out = o.data(), a.lse = l.data();
      kernels_for(isa).attention_fwd(a);
      a.dout = gf.data(), a.dq = gq.data(), a.dk = gk.data(), a.dv = gv.data();
      kernels_for(isa).attention_bwd(a);
      EXPECT_LT(worst(o, out), 1e-12) << isa_name(isa);
      EXPECT_LT(worst(gq, dq), 1e-11) << isa_name(isa);
      EXPECT_LT(worst(gk, dk), 1e-11) << isa_name(isa);
      EXPECT_LT(worst(gv, dv), 1e-12) << isa_name(isa);
      if (!lens.empty()) {  // the left-out rows and keys hold exact zeros
        EXPECT_EQ(o[a.os.at(0, 1, 6)], 0.0f) << isa_name(isa);
        EXPECT_EQ(gq[a.dqs.at(0, 2, 5)], 0.0f) << isa_name(isa);
        EXPECT_EQ(gk[a.dks.at(1, 0, 12) + 3], 0.0f) << isa_name(isa);
        EXPECT_EQ(gv[a.dvs.at(0, 1, 18) + 7], 0.0f) << isa_name(isa);
        EXPECT_NE(gv[a.dvs.at(1, 1, 11) + 7], 0.0f) << isa_name(isa);
      }
    }
  }
}

}  // namespace
}  // namespace ft::kern::simd

#include "kernels/cpu/optim.h"

namespace ft::kern::simd {
namespace {

// The vectorised AdamW: the same bits on every ISA, and within f32 rounding of the f64 update.
TEST(Simd, AdamWSameOnEveryIsaAndCloseToF64) {
  const int64_t n = 100003;
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  std::vector<float> p0(n), g(n), m0(n), v0(n);
  for (int64_t i = 0; i < n; ++i) p0[i] = nd(rng), g[i] = nd(rng), m0[i] = 0.1f * nd(rng), v0[i] = 0.01f * std::abs(nd(rng));
  const AdamWArgs args{1e-3, 0.9, 0.999, 1e-8, 0.01, 7};
  std::vector<double> pd(p0.begin(), p0.end()), gd(g.begin(), g.end()), md(m0.begin(), m0.end()), vd(v0.begin(), v0.end());
  adamw_step<double>(pd.data(), gd.data(), md.data(), vd.data(), n, args);
  std::vector<float> want;
  for (Isa isa : isas()) {
    std::vector<float> p = p0, m = m0, v = v0;
    Isa saved = active_isa();
    set_isa(isa);
    adamw_step<float>(p.data(), g.data(), m.data(), v.data(), n, args);
    set_isa(saved);
    if (want.empty()) {
      want = p;
      for (int64_t i = 0; i < n; ++i) ASSERT_NEAR(p[i], pd[i], 2e-6 * (1 + std::abs(pd[i]))) << i;
    }
    EXPECT_EQ(std::memcmp(p.data(), want.data(), sizeof(float) * n), 0) << isa_name(isa);
  }
}

}  // namespace
}  // namespace ft::kern::simd
