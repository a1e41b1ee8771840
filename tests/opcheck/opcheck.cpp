// Runs the op table (cases.cpp) on one device: the CPU (f64 and f32) in ft_opcheck, the CUDA backend
// (f64, f32, bf16, f16) in ft_opcheck_emu (kernels run by the SIMT emulator) and ft_opcheck_gpu (a
// real GPU). One gtest per case; each prints a line per device, dtype and check.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "tests/opcheck/guard_allocator.h"
#include "tests/opcheck/harness.h"
#if defined(FT_OPCHECK_CUDA)
#include "core/cuda/cuda_backend.h"
#endif

namespace ft::opcheck {
namespace {

constexpr double kFdEps = 1e-6, kFdAtol = 1e-6, kFdRtol = 1e-5;

// The device under test and the dtypes it computes in.
#if defined(FT_OPCHECK_CUDA)
const Device kDevice(DeviceType::cuda, 0);
const std::vector<DType> kDtypes = {DType::f64, DType::f32, DType::bf16, DType::f16};
#else
const Device kDevice = kCPU;
const std::vector<DType> kDtypes = {DType::f64, DType::f32};
#endif

// Forward thresholds (normalised squared error against the reference computed on the same
// dtype-rounded inputs): f32 per case (1e-9 by default); half types are bounded by their output
// rounding, 2^-9 (bf16) and 2^-12 (f16) relative, a few times over for ops that round twice.
double forward_threshold(const Case& c, DType dt) {
  switch (dt) {
    case DType::f64: return 1e-20;
    case DType::f32: return c.f32_nmse;
    case DType::bf16: return 1e-4;
    case DType::f16: return 1e-6;
    default: return 0;
  }
}
// Gradients in a lower precision against the f64 analytic ones: every backward op rounds its result.
double grad_threshold(DType dt) { return dt == DType::f32 ? 1e-8 : dt == DType::bf16 ? 1e-3 : 1e-5; }

const char* device_label() {
#if defined(FT_OPCHECK_CUDA)
  static const std::string s = std::string("cuda(") + cuda_runtime_name() + ")";
  return s.c_str();
#else
  return "cpu";
#endif
}

uint64_t seed_of(const std::string& s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return h;
}

bool is_float_kind(Kind k) {
  return k == Kind::real || k == Kind::positive || k == Kind::nonzero || k == Kind::prob || k == Kind::distinct;
}

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
      case Kind::distinct: break;
    }
  }
  if (in.kind == Kind::distinct) {
    // A random permutation of (i - n/2) / 16: distinct values exact in every dtype (n <= 4096).
    std::vector<std::pair<double, int64_t>> order;
    for (int64_t i = 0; i < n; ++i) order.emplace_back(u[i], i);
    std::sort(order.begin(), order.end());
    for (int64_t i = 0; i < n; ++i) h.v[order[i].second] = static_cast<double>(i - n / 2) / 16.0;
  }
  if (in.kind == Kind::target && n > 1) h.v[1] = -100;
  return h;
}

// A leaf tensor on the device holding `h` in `dtype`, laid out so that view_of(leaf) is
// non-contiguous when asked.
Tensor make_leaf(const Input& in, const Host& h, DType dtype) {
  if (!is_float_kind(in.kind)) {
    Tensor t = from_vector(h.v, h.shape, DType::f64);
    return t.to(in.kind == Kind::boolean ? DType::boolean : DType::i64).to(kDevice);
  }
  if (!in.noncontig) return from_vector(h.v, h.shape, dtype).to(kDevice);
  if (h.dim() >= 2) {  // stored transposed
    Shape s = h.shape;
    std::swap(s[s.size() - 1], s[s.size() - 2]);
    return from_vector(h.v, h.shape, DType::f64).transpose(-1, -2).contiguous().to(dtype).view(s).to(kDevice);
  }
  // 1-D: every other element of a twice-as-long buffer.
  std::vector<double> v(2 * h.v.size(), 0.0);
  for (size_t i = 0; i < h.v.size(); ++i) v[2 * i] = h.v[i];
  return from_vector(v, {2 * h.numel()}, dtype).to(kDevice);
}

// The inputs as the op sees them in `dtype`: floating inputs rounded to it.
std::vector<Host> rounded(const Case& c, const std::vector<Host>& hosts, DType dtype) {
  std::vector<Host> out = hosts;
  for (size_t i = 0; i < hosts.size(); ++i)
    if (is_float_kind(c.inputs[i].kind) && dtype != DType::f64)
      out[i].v = from_vector(hosts[i].v, hosts[i].shape, dtype).to_vector<double>();
  return out;
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
  std::printf("[opcheck] %s %-4s %-32s %-36s %-10s %.3e %s\n", device_label(), dtype, c.op.c_str(), c.label.c_str(),
              check, value, ok ? "ok" : "FAIL");
}

class OpCheck : public ::testing::TestWithParam<size_t> {};

TEST_P(OpCheck, ForwardAndGradient) {
  const Case& c = all_cases()[GetParam()];
  test::ScopedGuardAllocator guard;
  guard.get().reset();
  Generator gen(seed_of(c.op + "/" + c.label));
  std::vector<Host> hosts;
  for (const Input& in : c.inputs) hosts.push_back(generate(in, gen));

  // Forward in every dtype against the reference on the same (rounded) inputs.
  for (DType dt : kDtypes) {
    const Host ref = c.reference(rounded(c, hosts, dt));
    CaseRun r = run_case(c, hosts, dt, false);
    ASSERT_EQ(r.out.shape(), ref.shape) << c.op << "/" << c.label << " " << dt;
    ASSERT_EQ(r.out.device(), kDevice) << c.op << "/" << c.label;
    std::string why;
    const double e = nmse(r.out.to_vector<double>(), ref.v, &why);
    const double tol = forward_threshold(c, dt);
    report(c, dtype_name(dt), "forward", e, e <= tol);
    EXPECT_LE(e, tol) << c.op << "/" << c.label << " " << dt << " forward NMSE " << why;
  }
  if (c.differentiable) {
    // Analytic gradients of L = sum(out * R) in every dtype.
    CaseRun r64 = run_case(c, hosts, DType::f64, true);
    Tensor R = randn(r64.out.shape(), TensorOptions(DType::f64).with_device(kDevice), &gen);
    sum(mul(r64.out, R)).backward();
    std::vector<CaseRun> low;
    for (DType dt : kDtypes) {
      if (dt == DType::f64) continue;
      low.push_back(run_case(c, hosts, dt, true));
      sum(mul(low.back().out, R.to(dt))).backward();
    }
    int checked = 0;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      Tensor leaf = r64.leaves[i];
      if (!leaf.requires_grad()) {
        for (const CaseRun& lr : low)
          EXPECT_FALSE(lr.leaves[i].grad().defined()) << "input " << i << " needs no gradient but got one";
        continue;
      }
      ASSERT_TRUE(leaf.grad().defined()) << c.op << "/" << c.label << ": no gradient for input " << i;
      const auto analytic = leaf.grad().to_vector<double>();
      // Central differences, perturbing one element of the leaf at a time (on its device).
      const auto base = leaf.to_vector<double>();
      Tensor flat = leaf.detach().reshape({-1});
      double worst = 0;
      bool ok = true;
      for (int64_t k = 0; k < leaf.numel(); ++k) {
        const double saved = base[k];
        auto loss_at = [&](double x) {
          NoGradGuard ng;
          flat.narrow(0, k, 1).fill_(x);
          std::vector<Tensor> ins;
          for (size_t j = 0; j < c.inputs.size(); ++j) ins.push_back(view_of(c.inputs[j], r64.leaves[j]));
          return sum(mul(c.run(ins), R)).item();
        };
        const double numeric = (loss_at(saved + kFdEps) - loss_at(saved - kFdEps)) / (2 * kFdEps);
        {
          NoGradGuard ng;
          flat.narrow(0, k, 1).fill_(saved);
        }
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
      // Lower-precision gradients against the f64 ones.
      for (const CaseRun& lr : low) {
        ASSERT_TRUE(lr.leaves[i].grad().defined());
        const DType dt = lr.leaves[i].dtype();
        std::string why;
        const double e = nmse(lr.leaves[i].grad().to_vector<double>(), analytic, &why);
        report(c, dtype_name(dt), cat("grad[", i, "]").c_str(), e, e <= grad_threshold(dt));
        EXPECT_LE(e, grad_threshold(dt)) << c.op << "/" << c.label << " " << dt << " gradient of input " << i << " "
                                         << why;
      }
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
#if defined(FT_OPCHECK_CUDA)
  if (!ft::install_cuda_backend()) {
    std::fprintf(stderr, "ft_opcheck: no CUDA device\n");
    return 1;
  }
#endif
  return RUN_ALL_TESTS();
}
