// Runs the op table (cases.cpp) on every device present: today the CPU, where f32 is the fast path
// and f64 the precise one. One gtest per case; each prints a line per device, dtype and check.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <set>

#include "tests/opcheck/guard_allocator.h"
#include "tests/opcheck/harness.h"

namespace ft::opcheck {
namespace {

constexpr double kF64Nmse = 1e-20;
constexpr double kGradF32Nmse = 1e-8;  // f32 analytic gradients against the f64 ones
constexpr double kFdEps = 1e-6, kFdAtol = 1e-6, kFdRtol = 1e-5;

uint64_t seed_of(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return h;
}

bool is_float_kind(Kind k) { return k == Kind::real || k == Kind::positive || k == Kind::nonzero || k == Kind::prob; }

Host generate(const Input& in, Generator& gen) {
  const int64_t n = shape_numel(in.shape);
  auto u = rand({n}, DType::f64, &gen).to_vector<double>();
  Host h{in.shape, std::vector<double>(static_cast<size_t>(n))};
  for (int64_t i = 0; i < n; ++i) {
    switch (in.kind) {
      case Kind::real: h.v[i] = 4 * u[i] - 2; break;
      case Kind::positive: h.v[i] = 0.5 + 2 * u[i]; break;
      case Kind::nonzero: h.v[i] = (u[i] < 0.5 ? -1 : 1) * (0.1 + 3.8 * std::abs(u[i] - 0.5)); break;
      case Kind::index: case Kind::target: h.v[i] = std::floor(u[i] * static_cast<double>(in.limit) * 0.999999); break;
      case Kind::boolean: h.v[i] = u[i] < 0.5 ? 1 : 0; break;
      case Kind::prob: h.v[i] = u[i]; break;
    }
  }
  if (in.kind == Kind::target && n > 1) h.v[1] = -100;
  return h;
}

// A leaf tensor holding `h` in `dtype`, laid out so that view_of(leaf) is non-contiguous when asked.
Tensor make_leaf(const Input& in, const Host& h, DType dtype) {
  if (!is_float_kind(in.kind)) {
    Tensor t = from_vector(h.v, h.shape, DType::f64);
    return t.to(in.kind == Kind::boolean ? DType::boolean : DType::i64);
  }
  if (!in.noncontig) return from_vector(h.v, h.shape, dtype);
  if (h.dim() >= 2) {  // stored transposed
    Shape s = h.shape;
    std::swap(s[s.size() - 1], s[s.size() - 2]);
    return from_vector(h.v, h.shape, DType::f64).transpose(-1, -2).contiguous().to(dtype).view(s);
  }
  // 1-D: every other element of a twice-as-long buffer.
  std::vector<double> v(2 * h.v.size(), 0.0);
  for (size_t i = 0; i < h.v.size(); ++i) v[2 * i] = h.v[i];
  return from_vector(v, {2 * h.numel()}, dtype);
}

Tensor view_of(const Input& in, const Tensor& leaf) {
  if (!is_float_kind(in.kind) || !in.noncontig) return leaf;
  return leaf.dim() >= 2 ? leaf.transpose(-1, -2) : leaf.slice(0, 0, leaf.size(0), 2);
}

double nmse(const std::vector<double>& got, const std::vector<double>& want, std::string* why) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::isnan(got[i]) != std::isnan(want[i])) {
      *why = cat("NaN mismatch at element ", i, " (got ", got[i], ", want ", want[i], ")");
      return INFINITY;
    }
    if (std::isnan(want[i])) continue;
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return den > 0 ? num / den : num;
}

struct CaseRun {
  std::vector<Tensor> leaves;
  Tensor out;
};

CaseRun run_case(const Case& c, const std::vector<Host>& hosts, DType dtype, bool with_grad) {
  CaseRun r;
  std::vector<Tensor> ins;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor leaf = make_leaf(c.inputs[i], hosts[i], dtype);
    if (with_grad && c.inputs[i].grad && is_float_kind(c.inputs[i].kind)) leaf.requires_grad_(true);
    r.leaves.push_back(leaf);
    ins.push_back(view_of(c.inputs[i], leaf));
  }
  r.out = c.run(ins);
  return r;
}

void report(const Case& c, const char* dtype, const char* check, double value, bool ok) {
  std::printf("[opcheck] cpu %-4s %-32s %-36s %-10s %.3e %s\n", dtype, c.op.c_str(), c.label.c_str(), check, value,
              ok ? "ok" : "FAIL");
}

class OpCheck : public ::testing::TestWithParam<size_t> {};

TEST_P(OpCheck, ForwardAndGradient) {
  const Case& c = all_cases()[GetParam()];
  test::ScopedGuardAllocator guard;
  guard.get().reset();
  Generator gen(seed_of(c.op + "/" + c.label));
  std::vector<Host> hosts;
  for (const Input& in : c.inputs) hosts.push_back(generate(in, gen));
  const Host ref = c.reference(hosts);

  // Forward in f64 and f32 against the reference.
  for (DType dt : {DType::f64, DType::f32}) {
    CaseRun r = run_case(c, hosts, dt, false);
    ASSERT_EQ(r.out.shape(), ref.shape) << c.op << "/" << c.label << " " << dt;
    std::string why;
    const double e = nmse(r.out.to_vector<double>(), ref.v, &why);
    const double tol = dt == DType::f64 ? kF64Nmse : c.f32_nmse;
    report(c, dtype_name(dt), "forward", e, e <= tol);
    EXPECT_LE(e, tol) << c.op << "/" << c.label << " " << dt << " forward NMSE " << why;
  }
  if (c.differentiable) {
    // Analytic gradients of L = sum(out * R) in f64 and f32.
    CaseRun r64 = run_case(c, hosts, DType::f64, true);
    Tensor R = randn(r64.out.shape(), DType::f64, &gen);
    sum(mul(r64.out, R)).backward();
    CaseRun r32 = run_case(c, hosts, DType::f32, true);
    sum(mul(r32.out, R.to(DType::f32))).backward();
    int checked = 0;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      Tensor leaf = r64.leaves[i];
      if (!leaf.requires_grad()) {
        EXPECT_FALSE(r32.leaves[i].grad().defined()) << "input " << i << " needs no gradient but got one";
        continue;
      }
      ASSERT_TRUE(leaf.grad().defined()) << c.op << "/" << c.label << ": no gradient for input " << i;
      const auto analytic = leaf.grad().to_vector<double>();
      // Central differences, perturbing the leaf's storage in place.
      double* p = leaf.data<double>();
      double worst = 0;
      bool ok = true;
      for (int64_t k = 0; k < leaf.numel(); ++k) {
        const double saved = p[k];
        auto loss_at = [&](double x) {
          p[k] = x;
          NoGradGuard ng;
          std::vector<Tensor> ins;
          for (size_t j = 0; j < c.inputs.size(); ++j) ins.push_back(view_of(c.inputs[j], r64.leaves[j]));
          return sum(mul(c.run(ins), R)).item();
        };
        const double numeric = (loss_at(saved + kFdEps) - loss_at(saved - kFdEps)) / (2 * kFdEps);
        p[k] = saved;
        const double err = std::abs(numeric - analytic[k]);
        worst = std::max(worst, err / (kFdAtol + kFdRtol * std::abs(numeric)));
        if (err > kFdAtol + kFdRtol * std::abs(numeric)) {
          ok = false;
          ADD_FAILURE() << c.op << "/" << c.label << " input " << i << " element " << k << ": analytic "
                        << analytic[k] << " numeric " << numeric;
          break;
        }
      }
      report(c, "f64", cat("grad[", i, "]").c_str(), worst, ok);
      // f32 gradients against the f64 ones.
      ASSERT_TRUE(r32.leaves[i].grad().defined());
      std::string why;
      const double e = nmse(r32.leaves[i].grad().to_vector<double>(), analytic, &why);
      report(c, "f32", cat("grad[", i, "]").c_str(), e, e <= kGradF32Nmse);
      EXPECT_LE(e, kGradF32Nmse) << c.op << "/" << c.label << " f32 gradient of input " << i << " " << why;
      ++checked;
    }
    EXPECT_GT(checked, 0) << "differentiable case without a checked gradient";
  }
  EXPECT_EQ(guard.get().violations(), 0) << "a kernel wrote outside its buffer";
}

std::string case_name(const ::testing::TestParamInfo<size_t>& info) {
  const Case& c = all_cases()[info.param];
  std::string s = c.op + "__" + c.label;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpCheck, ::testing::Range<size_t>(0, all_cases().size()), case_name);

TEST(OpCheckCoverage, EveryRequiredOpHasForwardAndGradientCases) {
  std::set<std::string> seen, with_grad;
  for (const Case& c : all_cases()) {
    seen.insert(c.op);
    if (c.differentiable) with_grad.insert(c.op);
  }
  const std::set<std::string> not_differentiable = {"argmax", "one_hot", "to_bf16", "to_f16"};
  for (const std::string& op : required_ops()) {
    EXPECT_TRUE(seen.count(op)) << "op " << op << " has no case in the harness";
    if (!not_differentiable.count(op)) {
      EXPECT_TRUE(with_grad.count(op)) << "op " << op << " has no gradient check";
    }
  }
}

}  // namespace
}  // namespace ft::opcheck

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
