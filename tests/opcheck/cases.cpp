// The op table: every op of the engine core with several shapes (odd sizes, non-contiguous and
// broadcast inputs) and a plain reference. Adding an op means adding its rows here.
#include <cmath>
#include <map>

#include "kernels/common/philox.h"
#include "tests/opcheck/harness.h"

namespace ft::opcheck {
namespace {

using Ts = std::vector<Tensor>;
using Hs = std::vector<Host>;
Input in(Shape s, Kind k = Kind::real, bool nc = false) { return Input{std::move(s), k, 0, nc, true}; }
Input idx_in(Shape s, int64_t limit) { return Input{std::move(s), Kind::index, limit, false, false}; }

// Reduction reference: groups input values by output position (reduced dims collapsed).
Host reduce_ref(const Host& a, std::vector<int64_t> dims, bool keepdim,
                const std::function<double(const std::vector<double>&)>& f) {
  const int64_t nd = a.dim();
  if (dims.empty())
    for (int64_t d = 0; d < nd; ++d) dims.push_back(d);
  std::vector<bool> red(static_cast<size_t>(nd), false);
  for (int64_t d : dims) red[d < 0 ? d + nd : d] = true;
  Shape keep_shape, out_shape;
  for (int64_t d = 0; d < nd; ++d) {
    keep_shape.push_back(red[d] ? 1 : a.shape[d]);
    if (!red[d]) out_shape.push_back(a.shape[d]);
  }
  std::vector<std::vector<double>> groups(static_cast<size_t>(shape_numel(keep_shape)));
  for_each_index(a.shape, [&](const std::vector<int64_t>& i) {
    std::vector<int64_t> o = i;
    for (int64_t d = 0; d < nd; ++d)
      if (red[d]) o[d] = 0;
    groups[flat_index(keep_shape, o)].push_back(a.v[flat_index(a.shape, i)]);
  });
  Host out = host_zeros(keepdim ? keep_shape : out_shape);
  for (size_t g = 0; g < groups.size(); ++g) out.v[g] = f(groups[g]);
  return out;
}

double vsum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}
double vmax(const std::vector<double>& v) {
  double m = v[0];
  for (double x : v) m = std::max(m, x);
  return m;
}
double vargmax(const std::vector<double>& v) {
  size_t at = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[at]) at = i;
  return static_cast<double>(at);
}
double vvar(const std::vector<double>& v) {
  const double m = vsum(v) / static_cast<double>(v.size());
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}

// Batched matmul with broadcast batch dims; both operands at least 2-D.
Host matmul_ref(const Host& a, const Host& b) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  Shape ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  Host ta{ba, std::vector<double>(static_cast<size_t>(shape_numel(ba)))};
  Host tb{bb, std::vector<double>(static_cast<size_t>(shape_numel(bb)))};
  for (size_t i = 0; i < ta.v.size(); ++i) ta.v[i] = static_cast<double>(i);
  for (size_t i = 0; i < tb.v.size(); ++i) tb.v[i] = static_cast<double>(i);
  // Broadcast the batch indices with map_n, then multiply each pair of matrices.
  std::vector<std::pair<int64_t, int64_t>> pairs;
  Host bidx = map_n({ta, tb}, [&](const std::vector<double>& v) {
    pairs.emplace_back(static_cast<int64_t>(v[0]), static_cast<int64_t>(v[1]));
    return 0.0;
  });
  Shape out_shape = bidx.shape;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Host out = host_zeros(out_shape);
  for (size_t p = 0; p < pairs.size(); ++p)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t q = 0; q < k; ++q)
          acc += a.v[pairs[p].first * m * k + i * k + q] * b.v[pairs[p].second * k * n + q * n + j];
        out.v[p * m * n + i * n + j] = acc;
      }
  return out;
}

Host transpose_last(const Host& a) {
  Shape s = a.shape;
  std::swap(s[s.size() - 1], s[s.size() - 2]);
  Host out = host_zeros(s);
  for_each_index(a.shape, [&](const std::vector<int64_t>& i) {
    std::vector<int64_t> o = i;
    std::swap(o[o.size() - 1], o[o.size() - 2]);
    out.v[flat_index(s, o)] = a.v[flat_index(a.shape, i)];
  });
  return out;
}

Host permute_ref(const Host& a, const Shape& perm) {
  Shape s(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) s[i] = a.shape[perm[i]];
  Host out = host_zeros(s);
  for_each_index(s, [&](const std::vector<int64_t>& o) {
    std::vector<int64_t> i(perm.size());
    for (size_t d = 0; d < perm.size(); ++d) i[perm[d]] = o[d];
    out.v[flat_index(s, o)] = a.v[flat_index(a.shape, i)];
  });
  return out;
}

// Row-wise helper over the last dim.
Host rows_ref(const Host& a, const std::function<void(const double*, double*, int64_t)>& f) {
  Host out = a;
  const int64_t n = a.size(-1);
  for (int64_t r = 0; r < a.numel() / n; ++r) f(a.v.data() + r * n, out.v.data() + r * n, n);
  return out;
}

double round_to_bits(double x, int mant_bits, int min_exp) {
  // Nearest value with `mant_bits` significant bits (ties to even), subnormal quantum 2^(min_exp -
  // mant_bits + 1): an independent model of bf16 (8, -126) and f16 (11, -14) rounding.
  if (x == 0 || !std::isfinite(x)) return x;
  int e;
  std::frexp(x, &e);  // x = m * 2^e, 0.5 <= |m| < 1
  const int exp = std::max(e - 1, min_exp);
  const double quantum = std::ldexp(1.0, exp - mant_bits + 1);
  return std::nearbyint(x / quantum) * quantum;
}

void add(std::vector<Case>& cs, Case c) { cs.push_back(std::move(c)); }

void unary_cases(std::vector<Case>& cs, const std::string& op, Kind kind, std::function<Tensor(const Tensor&)> f,
                 std::function<double(double)> r, const std::string& tag = "") {
  add(cs, {op, tag + "7x13", {in({7, 13}, kind)}, [f](const Ts& t) { return f(t[0]); },
           [r](const Hs& h) { return map1(h[0], r); }});
  add(cs, {op, tag + "3x4x5_noncontig", {in({3, 4, 5}, kind, true)}, [f](const Ts& t) { return f(t[0]); },
           [r](const Hs& h) { return map1(h[0], r); }});
}

void binary_cases(std::vector<Case>& cs, const std::string& op, Kind kb, std::function<Tensor(const Tensor&, const Tensor&)> f,
                  std::function<double(double, double)> r) {
  auto run = [f](const Ts& t) { return f(t[0], t[1]); };
  auto ref = [r](const Hs& h) { return map_n(h, [r](const std::vector<double>& v) { return r(v[0], v[1]); }); };
  add(cs, {op, "5x7_5x7", {in({5, 7}), in({5, 7}, kb)}, run, ref});
  add(cs, {op, "bcast_3x1x5_4x5", {in({3, 1, 5}), in({4, 5}, kb)}, run, ref});
  add(cs, {op, "noncontig_6x4", {in({6, 4}, Kind::real, true), in({6, 4}, kb, true)}, run, ref});
  add(cs, {op, "scalar_tensor", {in({}), in({3, 4}, kb)}, run, ref});
}

std::vector<Case> build() {
  std::vector<Case> cs;
  // ---- elementwise binary ----
  binary_cases(cs, "add", Kind::real, [](auto& a, auto& b) { return add(a, b); }, [](double a, double b) { return a + b; });
  binary_cases(cs, "sub", Kind::real, [](auto& a, auto& b) { return sub(a, b); }, [](double a, double b) { return a - b; });
  binary_cases(cs, "mul", Kind::real, [](auto& a, auto& b) { return mul(a, b); }, [](double a, double b) { return a * b; });
  binary_cases(cs, "div", Kind::positive, [](auto& a, auto& b) { return div(a, b); }, [](double a, double b) { return a / b; });
  // ---- scalar operands ----
  unary_cases(cs, "add_scalar", Kind::real, [](auto& a) { return add(a, 1.5); }, [](double x) { return x + 1.5; });
  unary_cases(cs, "sub_scalar", Kind::real, [](auto& a) { return sub(a, 0.25); }, [](double x) { return x - 0.25; });
  unary_cases(cs, "rsub_scalar", Kind::real, [](auto& a) { return 3.0 - a; }, [](double x) { return 3.0 - x; });
  unary_cases(cs, "mul_scalar", Kind::real, [](auto& a) { return a * -2.5; }, [](double x) { return x * -2.5; });
  unary_cases(cs, "div_scalar", Kind::real, [](auto& a) { return a / 3.0; }, [](double x) { return x / 3.0; });
  unary_cases(cs, "rdiv_scalar", Kind::positive, [](auto& a) { return 2.0 / a; }, [](double x) { return 2.0 / x; });
  // ---- elementwise unary ----
  unary_cases(cs, "neg", Kind::real, [](auto& a) { return neg(a); }, [](double x) { return -x; });
  unary_cases(cs, "exp", Kind::real, [](auto& a) { return exp(a); }, [](double x) { return std::exp(x); });
  unary_cases(cs, "log", Kind::positive, [](auto& a) { return log(a); }, [](double x) { return std::log(x); });
  unary_cases(cs, "sqrt", Kind::positive, [](auto& a) { return sqrt(a); }, [](double x) { return std::sqrt(x); });
  unary_cases(cs, "rsqrt", Kind::positive, [](auto& a) { return rsqrt(a); }, [](double x) { return 1 / std::sqrt(x); });
  unary_cases(cs, "pow", Kind::positive, [](auto& a) { return pow(a, 2.5); }, [](double x) { return std::pow(x, 2.5); }, "p2.5_");
  unary_cases(cs, "pow", Kind::real, [](auto& a) { return pow(a, 3.0); }, [](double x) { return x * x * x; }, "p3_");
  unary_cases(cs, "tanh", Kind::real, [](auto& a) { return tanh(a); }, [](double x) { return std::tanh(x); });
  unary_cases(cs, "sigmoid", Kind::real, [](auto& a) { return sigmoid(a); }, [](double x) { return 1 / (1 + std::exp(-x)); });
  unary_cases(cs, "silu", Kind::real, [](auto& a) { return silu(a); }, [](double x) { return x / (1 + std::exp(-x)); });
  unary_cases(cs, "relu", Kind::nonzero, [](auto& a) { return relu(a); }, [](double x) { return x > 0 ? x : 0; });
  unary_cases(cs, "gelu_erf", Kind::real, [](auto& a) { return gelu(a); },
              [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); });
  unary_cases(cs, "gelu_tanh", Kind::real, [](auto& a) { return gelu(a, GeluApprox::tanh); }, [](double x) {
    return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  });
  unary_cases(cs, "clamp", Kind::real, [](auto& a) { return clamp(a, -0.5, 0.75); },
              [](double x) { return std::min(std::max(x, -0.5), 0.75); }, "both_");
  unary_cases(cs, "clamp", Kind::real, [](auto& a) { return clamp(a, std::nullopt, 0.3); },
              [](double x) { return std::min(x, 0.3); }, "max_only_");
  // ---- selection ----
  add(cs, {"where", "bcast_cond_4x1_a_4x6_b_6", {Input{{4, 1}, Kind::boolean, 0, false, false}, in({4, 6}), in({6})},
           [](const Ts& t) { return where(t[0], t[1], t[2]); },
           [](const Hs& h) { return map_n(h, [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; }); }});
  add(cs, {"where", "noncontig_5x3", {Input{{5, 3}, Kind::boolean, 0, false, false}, in({5, 3}, Kind::real, true), in({5, 3})},
           [](const Ts& t) { return where(t[0], t[1], t[2]); },
           [](const Hs& h) { return map_n(h, [](const std::vector<double>& v) { return v[0] != 0 ? v[1] : v[2]; }); }});
  add(cs, {"masked_fill", "bcast_mask_1x7_x_3x7", {in({3, 7}), Input{{1, 7}, Kind::boolean, 0, false, false}},
           [](const Ts& t) { return masked_fill(t[0], t[1], -1e4); },
           [](const Hs& h) { return map_n(h, [](const std::vector<double>& v) { return v[1] != 0 ? -1e4 : v[0]; }); }});
  // ---- comparisons (no gradient) ----
  add(cs, {"gt", "5x6", {in({5, 6})}, [](const Ts& t) { return gt(t[0], 0.1); },
           [](const Hs& h) { return map1(h[0], [](double x) { return x > 0.1 ? 1.0 : 0.0; }); }, false});
  add(cs, {"lt", "5x6", {in({5, 6})}, [](const Ts& t) { return lt(t[0], 0.1); },
           [](const Hs& h) { return map1(h[0], [](double x) { return x < 0.1 ? 1.0 : 0.0; }); }, false});
  add(cs, {"eq", "bcast_4x3_3", {idx_in({4, 3}, 3), idx_in({3}, 3)}, [](const Ts& t) { return eq(t[0], t[1]); },
           [](const Hs& h) { return map_n(h, [](const std::vector<double>& v) { return v[0] == v[1] ? 1.0 : 0.0; }); }, false});
  // ---- reductions ----
  auto sum_case = [&](std::string label, Input i, std::vector<int64_t> dims, bool keep) {
    add(cs, {"sum", label, {i}, [dims, keep](const Ts& t) { return sum(t[0], dims, keep); },
             [dims, keep](const Hs& h) { return reduce_ref(h[0], dims, keep, vsum); }});
  };
  sum_case("all_5x7", in({5, 7}), {}, false);
  sum_case("dim1_3x4x5_keep", in({3, 4, 5}), {1}, true);
  sum_case("dims02_3x4x5_noncontig", in({3, 4, 5}, Kind::real, true), {0, 2}, false);
  sum_case("dim-1_9x1", in({9, 1}), {-1}, false);
  add(cs, {"mean", "dims01_4x3x5", {in({4, 3, 5})}, [](const Ts& t) { return mean(t[0], {0, 1}); },
           [](const Hs& h) { return reduce_ref(h[0], {0, 1}, false, [](const std::vector<double>& v) { return vsum(v) / v.size(); }); }});
  add(cs, {"mean", "dim-1_keep_6x7_noncontig", {in({6, 7}, Kind::real, true)}, [](const Ts& t) { return mean(t[0], {-1}, true); },
           [](const Hs& h) { return reduce_ref(h[0], {-1}, true, [](const std::vector<double>& v) { return vsum(v) / v.size(); }); }});
  add(cs, {"var", "dim1_4x9", {in({4, 9})}, [](const Ts& t) { return var(t[0], {1}); },
           [](const Hs& h) { return reduce_ref(h[0], {1}, false, vvar); }});
  add(cs, {"var", "dims02_keep_3x4x5", {in({3, 4, 5})}, [](const Ts& t) { return var(t[0], {0, 2}, 1, true); },
           [](const Hs& h) { return reduce_ref(h[0], {0, 2}, true, vvar); }});
  add(cs, {"max", "dim1_4x7x3", {in({4, 7, 3})}, [](const Ts& t) { return max(t[0], 1).first; },
           [](const Hs& h) { return reduce_ref(h[0], {1}, false, vmax); }});
  add(cs, {"max", "dim0_keep_6x5_noncontig", {in({6, 5}, Kind::real, true)}, [](const Ts& t) { return max(t[0], 0, true).first; },
           [](const Hs& h) { return reduce_ref(h[0], {0}, true, vmax); }});
  add(cs, {"max", "all_5x4", {in({5, 4})}, [](const Ts& t) { return max(t[0]); },
           [](const Hs& h) { return reduce_ref(h[0], {}, false, vmax); }});
  add(cs, {"argmax", "dim-1_5x9", {in({5, 9})}, [](const Ts& t) { return argmax(t[0], -1); },
           [](const Hs& h) { return reduce_ref(h[0], {-1}, false, vargmax); }, false});
  add(cs, {"argmax", "dim0_keep_7x3_noncontig", {in({7, 3}, Kind::real, true)}, [](const Ts& t) { return argmax(t[0], 0, true); },
           [](const Hs& h) { return reduce_ref(h[0], {0}, true, vargmax); }, false});
  // ---- matmul and linear ----
  auto mm = [](const Ts& t) { return matmul(t[0], t[1]); };
  add(cs, {"matmul", "5x7_7x3", {in({5, 7}), in({7, 3})}, mm, [](const Hs& h) { return matmul_ref(h[0], h[1]); }});
  add(cs, {"matmul", "bcast_2x1x4x5_3x5x6", {in({2, 1, 4, 5}), in({3, 5, 6})}, mm, [](const Hs& h) { return matmul_ref(h[0], h[1]); }});
  add(cs, {"matmul", "noncontig_3x6x4_4x5", {in({3, 6, 4}, Kind::real, true), in({4, 5}, Kind::real, true)}, mm,
           [](const Hs& h) { return matmul_ref(h[0], h[1]); }});
  add(cs, {"matmul", "vec_7_7x3", {in({7}), in({7, 3})}, mm, [](const Hs& h) {
             Host a{{1, 7}, h[0].v};
             Host r = matmul_ref(a, h[1]);
             r.shape = {3};
             return r;
           }});
  add(cs, {"matmul", "4x7_vec_7", {in({4, 7}), in({7})}, mm, [](const Hs& h) {
             Host b{{7, 1}, h[1].v};
             Host r = matmul_ref(h[0], b);
             r.shape = {4};
             return r;
           }});
  auto linear_ref = [](const Hs& h) {
    Host r = matmul_ref(Host{{h[0].numel() / h[0].size(-1), h[0].size(-1)}, h[0].v}, transpose_last(h[1]));
    if (h.size() > 2)
      for (int64_t i = 0; i < r.numel(); ++i) r.v[i] += h[2].v[i % h[2].numel()];
    Shape s = h[0].shape;
    s.back() = h[1].size(0);
    r.shape = s;
    return r;
  };
  add(cs, {"linear", "2x3x5_w7x5_b7", {in({2, 3, 5}), in({7, 5}), in({7})},
           [](const Ts& t) { return linear(t[0], t[1], t[2]); }, linear_ref});
  add(cs, {"linear", "noncontig_x6x4_w3x4_nobias", {in({6, 4}, Kind::real, true), in({3, 4})},
           [](const Ts& t) { return linear(t[0], t[1]); }, linear_ref});
  add(cs, {"linear", "frozen_weight", {in({4, 5}), Input{{3, 5}, Kind::real, 0, false, false}, in({3})},
           [](const Ts& t) { return linear(t[0], t[1], t[2]); }, linear_ref});
  // ---- fused: gelu(linear(x, w, b)); tanh with 8 out-features is one cuBLASLt call on CUDA ----
  auto linear_gelu_ref = [linear_ref](bool exact) {
    return [linear_ref, exact](const Hs& h) {
      return map1(linear_ref(h), [exact](double x) {
        return exact ? 0.5 * x * std::erfc(-x / std::sqrt(2.0))
                     : 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
      });
    };
  };
  add(cs, {"linear_bias_gelu", "tanh_2x3x5_w8x5_b8", {in({2, 3, 5}), in({8, 5}), in({8})},
           [](const Ts& t) { return linear_bias_gelu(t[0], t[1], t[2], GeluApprox::tanh); }, linear_gelu_ref(false)});
  add(cs, {"linear_bias_gelu", "tanh_frozen_weight_4x6_w16x6", {in({4, 6}), Input{{16, 6}, Kind::real, 0, false, false},
           in({16})},
           [](const Ts& t) { return linear_bias_gelu(t[0], t[1], t[2], GeluApprox::tanh); }, linear_gelu_ref(false)});
  add(cs, {"linear_bias_gelu", "erf_unfused_3x4_w5x4_b5", {in({3, 4}), in({5, 4}), in({5})},
           [](const Ts& t) { return linear_bias_gelu(t[0], t[1], t[2]); }, linear_gelu_ref(true)});
  // ---- softmax family ----
  auto softmax_row = [](bool logp) {
    return [logp](const Hs& h) {
      return rows_ref(h[0], [logp](const double* x, double* y, int64_t n) {
        double m = x[0], s = 0;
        for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
        for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
        for (int64_t i = 0; i < n; ++i) y[i] = logp ? x[i] - m - std::log(s) : std::exp(x[i] - m) / s;
      });
    };
  };
  add(cs, {"softmax", "6x11", {in({6, 11})}, [](const Ts& t) { return softmax(t[0], -1); }, softmax_row(false)});
  add(cs, {"softmax", "2x3x5_noncontig", {in({2, 3, 5}, Kind::real, true)}, [](const Ts& t) { return softmax(t[0], 2); }, softmax_row(false)});
  add(cs, {"log_softmax", "6x11", {in({6, 11})}, [](const Ts& t) { return log_softmax(t[0]); }, softmax_row(true)});
  add(cs, {"log_softmax", "4x3x2_noncontig", {in({4, 3, 2}, Kind::real, true)}, [](const Ts& t) { return log_softmax(t[0]); }, softmax_row(true)});
  // ---- layer_norm ----
  auto ln_ref = [](double eps) {
    return [eps](const Hs& h) {
      Host out = h[0];
      const int64_t n = h[0].size(-1);
      for (int64_t r = 0; r < h[0].numel() / n; ++r) {
        const double* x = h[0].v.data() + r * n;
        double m = 0, v = 0;
        for (int64_t i = 0; i < n; ++i) m += x[i] / static_cast<double>(n);
        for (int64_t i = 0; i < n; ++i) v += (x[i] - m) * (x[i] - m) / static_cast<double>(n);
        for (int64_t i = 0; i < n; ++i) {
          double y = (x[i] - m) / std::sqrt(v + eps);
          if (h.size() > 1) y = y * h[1].v[i] + h[2].v[i];
          out.v[r * n + i] = y;
        }
      }
      return out;
    };
  };
  // Llama's RMSNorm: weight * x / sqrt(mean(x^2) + eps).
  auto rms_ref = [](double eps) {
    return [eps](const Hs& h) {
      Host out = h[0];
      const int64_t n = h[0].size(-1);
      for (int64_t r = 0; r < h[0].numel() / n; ++r) {
        const double* x = h[0].v.data() + r * n;
        double ms = 0;
        for (int64_t i = 0; i < n; ++i) ms += x[i] * x[i] / static_cast<double>(n);
        for (int64_t i = 0; i < n; ++i) out.v[r * n + i] = h[1].v[i] * x[i] / std::sqrt(ms + eps);
      }
      return out;
    };
  };
  add(cs, {"rms_norm", "5x13", {in({5, 13}), in({13})}, [](const Ts& t) { return rms_norm(t[0], t[1], 1e-6); }, rms_ref(1e-6)});
  add(cs, {"rms_norm", "2x3x7_noncontig", {in({2, 3, 7}, Kind::real, true), in({7})},
           [](const Ts& t) { return rms_norm(t[0], t[1], 1e-5); }, rms_ref(1e-5)});
  add(cs, {"layer_norm", "5x13_affine", {in({5, 13}), in({13}), in({13})},
           [](const Ts& t) { return layer_norm(t[0], t[1], t[2], 1e-5); }, ln_ref(1e-5)});
  add(cs, {"layer_norm", "2x3x7_noncontig_affine", {in({2, 3, 7}, Kind::real, true), in({7}), in({7})},
           [](const Ts& t) { return layer_norm(t[0], t[1], t[2], 1e-12); }, ln_ref(1e-12)});
  add(cs, {"layer_norm", "4x6_no_affine", {in({4, 6})}, [](const Ts& t) { return layer_norm(t[0], Tensor(), Tensor(), 1e-5); },
           ln_ref(1e-5)});
  // The fused residual add: its reference is the composite, layer_norm(x + residual).
  auto add_ln_ref = [ln_ref](double eps) {
    return [ln_ref, eps](const Hs& h) {
      Hs summed = {map_n({h[0], h[1]}, [](const std::vector<double>& v) { return v[0] + v[1]; })};
      if (h.size() > 2) summed.push_back(h[2]), summed.push_back(h[3]);
      return ln_ref(eps)(summed);
    };
  };
  add(cs, {"add_layer_norm", "3x2x11_affine", {in({3, 2, 11}), in({3, 2, 11}), in({11}), in({11})},
           [](const Ts& t) { return add_layer_norm(t[0], t[1], t[2], t[3], 1e-12); }, add_ln_ref(1e-12)});
  add(cs, {"add_layer_norm", "4x9_noncontig_residual_frozen_affine",
           {in({4, 9}), in({4, 9}, Kind::real, true), Input{{9}, Kind::real, 0, false, false}, in({9})},
           [](const Ts& t) { return add_layer_norm(t[0], t[1], t[2], t[3], 1e-5); }, add_ln_ref(1e-5)});
  // ---- fused: bias + dropout + residual + LayerNorm; the mask is Philox seed 7 value i for
  // element i of the [.., n] tensor ----
  auto bdln_ref = [ln_ref](double p, double eps) {
    return [ln_ref, p, eps](const Hs& h) {  // h: x, x_bias, residual, weight, bias
      Host pre = h[0];
      const int64_t n = pre.size(-1);
      for (int64_t i = 0; i < pre.numel(); ++i) {
        double v = pre.v[i] + h[1].v[i % n];
        if (p > 0) v = kern::uniform_from_u32(kern::philox_u32(7, static_cast<uint64_t>(i))) > static_cast<float>(p)
                           ? v / (1 - p) : 0.0;
        pre.v[i] = v + h[2].v[i];
      }
      return ln_ref(eps)({pre, h[3], h[4]});
    };
  };
  add(cs, {"bias_dropout_add_layer_norm", "dropout0.25_3x5x37",
           {in({3, 5, 37}), in({37}), in({3, 5, 37}), in({37}), in({37})},
           [](const Ts& t) {
             Generator g(7);
             return bias_dropout_add_layer_norm(t[0], t[1], t[2], t[3], t[4], 1e-12, 0.25, true, &g);
           }, bdln_ref(0.25, 1e-12)});
  add(cs, {"bias_dropout_add_layer_norm", "eval_4x9_noncontig_residual",
           {in({4, 9}), in({9}), in({4, 9}, Kind::real, true), in({9}), in({9})},
           [](const Ts& t) { return bias_dropout_add_layer_norm(t[0], t[1], t[2], t[3], t[4], 1e-5, 0.5, false); },
           bdln_ref(0, 1e-5)});
  // ---- fused: bias + GELU ----
  auto bias_gelu_ref = [](bool exact) {
    return [exact](const Hs& h) {
      Host out = h[0];
      const int64_t n = out.size(-1);
      for (int64_t i = 0; i < out.numel(); ++i) {
        const double x = h[0].v[i] + h[1].v[i % n];
        out.v[i] = exact ? 0.5 * x * std::erfc(-x / std::sqrt(2.0))
                         : x / (1 + std::exp(-2 * std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
      }
      return out;
    };
  };
  add(cs, {"bias_gelu", "erf_7x37", {in({7, 37}), in({37})}, [](const Ts& t) { return bias_gelu(t[0], t[1]); },
           bias_gelu_ref(true)});
  add(cs, {"bias_gelu", "tanh_2x3x19_noncontig", {in({2, 3, 19}, Kind::real, true), in({19})},
           [](const Ts& t) { return bias_gelu(t[0], t[1], GeluApprox::tanh); }, bias_gelu_ref(false)});
  // ---- attention: dropout(softmax(q k^T / sqrt(d) + mask)) v, written out per (batch, head, query);
  // probability (g, i, j) is kept when Philox value (g*tq + i)*tk + j of seed 7 is above p ----
  // With lengths, keys j >= lengths[b] are left out and rows i >= lengths[b] stay zero.
  auto attention_ref_p = [](double p, std::vector<int64_t> lengths = {}) {
    return [p, lengths](const Hs& h) {
      const Host &q = h[0], &k = h[1], &v = h[2];
      const int64_t b = q.size(0), nh = q.size(1), tq = q.size(2), d = q.size(3), tk_all = k.size(2);
      Host out = host_zeros({b, nh, tq, d});
      for (int64_t g = 0; g < b * nh; ++g)
        for (int64_t i = 0; i < tq; ++i) {
          const int64_t len = lengths.empty() ? std::max(tq, tk_all) : lengths[g / nh];
          if (i >= len) continue;
          const int64_t tk = std::min(tk_all, len);
          std::vector<double> s(static_cast<size_t>(tk));
          double mx = -1e300, sum = 0;
          for (int64_t j = 0; j < tk; ++j) {
            double dot = 0;
            for (int64_t c = 0; c < d; ++c) dot += q.v[(g * tq + i) * d + c] * k.v[(g * tk_all + j) * d + c];
            s[j] = dot / std::sqrt(static_cast<double>(d)) + (h.size() > 3 ? h[3].v[(g / nh) * tk_all + j] : 0.0);
            mx = std::max(mx, s[j]);
          }
          for (int64_t j = 0; j < tk; ++j) sum += std::exp(s[j] - mx);
          for (int64_t j = 0; j < tk; ++j) {
            double keep = 1;
            if (p > 0) {
              const uint64_t n = static_cast<uint64_t>((g * tq + i) * tk_all + j);
              keep = kern::uniform_from_u32(kern::philox_u32(7, n)) > static_cast<float>(p) ? 1 / (1 - p) : 0.0;
            }
            for (int64_t c = 0; c < d; ++c)
              out.v[(g * tq + i) * d + c] += std::exp(s[j] - mx) / sum * keep * v.v[(g * tk_all + j) * d + c];
          }
        }
      return out;
    };
  };
  const auto attention_ref = attention_ref_p(0);
  add(cs, {"scaled_dot_product_attention", "2x2x3x4_keys5_padding_mask",
           {in({2, 2, 3, 4}), in({2, 2, 5, 4}), in({2, 2, 5, 4}), Input{{2, 1, 1, 5}, Kind::real, 0, false, false}},
           [](const Ts& t) { return scaled_dot_product_attention(t[0], t[1], t[2], t[3]); }, attention_ref});
  add(cs, {"scaled_dot_product_attention", "1x3x6x2_noncontig_q_no_mask",
           {in({1, 3, 6, 2}, Kind::real, true), in({1, 3, 6, 2}), in({1, 3, 6, 2})},
           [](const Ts& t) { return scaled_dot_product_attention(t[0], t[1], t[2], Tensor()); }, attention_ref});
  // Training: dropout inside the fused kernel (the composite's mask: same generator draw).
  add(cs, {"scaled_dot_product_attention", "dropout0.3_2x2x5x3_keys19_mask",
           {in({2, 2, 5, 3}), in({2, 2, 19, 3}), in({2, 2, 19, 3}), Input{{2, 1, 1, 19}, Kind::real, 0, false, false}},
           [](const Ts& t) {
             Generator g(7);
             return scaled_dot_product_attention(t[0], t[1], t[2], t[3], 0.3, true, &g);
           }, attention_ref_p(0.3)});
  // Per-sequence lengths (BERT's attended prefix): keys beyond left out, rows beyond zero; with the
  // padding mask and dropout, whose mask indices stay those of the full [b, h, tq, tk] grid.
  add(cs, {"scaled_dot_product_attention", "lengths_3_6_dropout0.2_3x2x7x4_mask",
           {in({3, 2, 7, 4}), in({3, 2, 7, 4}), in({3, 2, 7, 4}), Input{{3, 1, 1, 7}, Kind::real, 0, false, false}},
           [](const Ts& t) {
             Generator g(7);
             return scaled_dot_product_attention(t[0], t[1], t[2], t[3], 0.2, true, &g, {3, 7, 1});
           }, attention_ref_p(0.2, {3, 7, 1})});
  // BERT's layout: q, k, v are [b, t, h, d] projections viewed as [b, h, t, d], read in place.
  add(cs, {"scaled_dot_product_attention", "dropout0.1_heads_view_2x9x2x8",
           {in({2, 9, 2, 8}), in({2, 9, 2, 8}), in({2, 9, 2, 8})},
           [](const Ts& t) {
             Generator g(7);
             auto heads = [](const Tensor& x) { return x.permute({0, 2, 1, 3}); };
             return scaled_dot_product_attention(heads(t[0]), heads(t[1]), heads(t[2]), Tensor(), 0.1, true, &g);
           },
           [attention_ref_p](const Hs& h) {
             return attention_ref_p(0.1)({permute_ref(h[0], {0, 2, 1, 3}), permute_ref(h[1], {0, 2, 1, 3}),
                                          permute_ref(h[2], {0, 2, 1, 3})});
           }});
  // ---- dropout: the mask is the Philox stream (seed 7, offset 0), value i kept when u_i > p ----
  auto dropout_ref = [](double p) {
    return [p](const Hs& h) {
      Host out = h[0];
      for (int64_t i = 0; i < out.numel(); ++i) {
        const float u = kern::uniform_from_u32(kern::philox_u32(7, static_cast<uint64_t>(i)));
        out.v[i] = u > static_cast<float>(p) ? h[0].v[i] / (1 - p) : 0.0;
      }
      return out;
    };
  };
  add(cs, {"dropout", "p0.3_9x11", {in({9, 11})}, [](const Ts& t) {
             Generator g(7);
             return dropout(t[0], 0.3, true, &g);
           }, dropout_ref(0.3)});
  add(cs, {"dropout", "p0.5_4x5_noncontig", {in({4, 5}, Kind::real, true)}, [](const Ts& t) {
             Generator g(7);
             return dropout(t[0], 0.5, true, &g);
           }, dropout_ref(0.5)});
  add(cs, {"dropout", "eval_identity_3x4", {in({3, 4})}, [](const Ts& t) { return dropout(t[0], 0.5, false); },
           [](const Hs& h) { return h[0]; }});
  // ---- indexing ----
  add(cs, {"embedding", "ids_3x5_w11x4_repeats", {idx_in({3, 5}, 11), in({11, 4})},
           [](const Ts& t) { return embedding(t[0], t[1]); }, [](const Hs& h) {
             const int64_t d = h[1].size(1);
             Shape s = h[0].shape;
             s.push_back(d);
             Host out = host_zeros(s);
             for (int64_t i = 0; i < h[0].numel(); ++i)
               for (int64_t j = 0; j < d; ++j) out.v[i * d + j] = h[1].v[static_cast<int64_t>(h[0].v[i]) * d + j];
             return out;
           }});
  auto index_select_ref = [](int64_t dim) {
    return [dim](const Hs& h) {
      Shape s = h[0].shape;
      s[dim] = h[1].numel();
      Host out = host_zeros(s);
      for_each_index(s, [&](const std::vector<int64_t>& o) {
        std::vector<int64_t> i = o;
        i[dim] = static_cast<int64_t>(h[1].v[o[dim]]);
        out.v[flat_index(s, o)] = h[0].v[flat_index(h[0].shape, i)];
      });
      return out;
    };
  };
  add(cs, {"index_select", "dim1_4x6x3_idx5", {in({4, 6, 3}), idx_in({5}, 6)},
           [](const Ts& t) { return index_select(t[0], 1, t[1]); }, index_select_ref(1)});
  add(cs, {"index_select", "dim0_7x5_noncontig_idx9", {in({7, 5}, Kind::real, true), idx_in({9}, 7)},
           [](const Ts& t) { return index_select(t[0], 0, t[1]); }, index_select_ref(0)});
  auto index_scatter_ref = [](int64_t rows) {
    return [rows](const Hs& h) {
      Shape s = h[0].shape;
      s[0] = rows;
      Host out = host_zeros(s);
      const int64_t width = h[0].numel() / h[0].size(0);
      for (int64_t i = 0; i < h[1].numel(); ++i)
        for (int64_t j = 0; j < width; ++j) out.v[static_cast<int64_t>(h[1].v[i]) * width + j] += h[0].v[i * width + j];
      return out;
    };
  };
  add(cs, {"index_scatter", "rows8_src6x2x3_repeats", {in({6, 2, 3}), idx_in({6}, 8)},
           [](const Ts& t) { return index_scatter(t[0], 8, t[1]); }, index_scatter_ref(8)});
  add(cs, {"index_scatter", "rows4_src5x3_noncontig", {in({5, 3}, Kind::real, true), idx_in({5}, 4)},
           [](const Ts& t) { return index_scatter(t[0], 4, t[1]); }, index_scatter_ref(4)});
  add(cs, {"one_hot", "ids_2x5_c7", {idx_in({2, 5}, 7)}, [](const Ts& t) { return one_hot(t[0], 7); }, [](const Hs& h) {
             Shape s = h[0].shape;
             s.push_back(7);
             Host out = host_zeros(s);
             for (int64_t i = 0; i < h[0].numel(); ++i) out.v[i * 7 + static_cast<int64_t>(h[0].v[i])] = 1;
             return out;
           }, false});
  auto concat_ref = [](int64_t dim) {
    return [dim](const Hs& h) {
      Shape s = h[0].shape;
      s[dim] = 0;
      for (const Host& x : h) s[dim] += x.shape[dim];
      Host out = host_zeros(s);
      int64_t off = 0;
      for (const Host& x : h) {
        for_each_index(x.shape, [&](const std::vector<int64_t>& i) {
          std::vector<int64_t> o = i;
          o[dim] += off;
          out.v[flat_index(s, o)] = x.v[flat_index(x.shape, i)];
        });
        off += x.shape[dim];
      }
      return out;
    };
  };
  add(cs, {"concat", "dim1_3x2_3x5nc_3x1", {in({3, 2}), in({3, 5}, Kind::real, true), in({3, 1})},
           [](const Ts& t) { return concat(t, 1); }, concat_ref(1)});
  add(cs, {"concat", "dim0_2x3x4_5x3x4", {in({2, 3, 4}), in({5, 3, 4})}, [](const Ts& t) { return concat(t, 0); }, concat_ref(0)});
  add(cs, {"stack", "dim1_three_4x3", {in({4, 3}), in({4, 3}, Kind::real, true), in({4, 3})},
           [](const Ts& t) { return stack(t, 1); }, [concat_ref](const Hs& h) {
             Hs parts;
             for (const Host& x : h) parts.push_back(Host{{x.shape[0], 1, x.shape[1]}, x.v});
             return concat_ref(1)(parts);
           }});
  // ---- losses ----
  auto ce_ref = [](double smoothing) {
    return [smoothing](const Hs& h) {
      const int64_t rows = h[0].size(0), c = h[0].size(1);
      double total = 0;
      int64_t valid = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t t = static_cast<int64_t>(h[1].v[r]);
        if (t == -100) continue;
        const double* z = h[0].v.data() + r * c;
        double m = z[0], s = 0, mean_logp = 0;
        for (int64_t i = 0; i < c; ++i) m = std::max(m, z[i]);
        for (int64_t i = 0; i < c; ++i) s += std::exp(z[i] - m);
        const double lse = m + std::log(s);
        for (int64_t i = 0; i < c; ++i) mean_logp += (z[i] - lse) / static_cast<double>(c);
        total += (1 - smoothing) * (lse - z[t]) - smoothing * mean_logp;
        ++valid;
      }
      return Host{{}, {total / static_cast<double>(valid)}};
    };
  };
  add(cs, {"cross_entropy", "8x5_ignore", {in({8, 5}), Input{{8}, Kind::target, 5, false, false}},
           [](const Ts& t) { return cross_entropy(t[0], t[1]); }, ce_ref(0.0)});
  add(cs, {"cross_entropy", "7x9_smoothing0.1_noncontig", {in({7, 9}, Kind::real, true), Input{{7}, Kind::target, 9, false, false}},
           [](const Ts& t) { return cross_entropy(t[0], t[1], -100, 0.1); }, ce_ref(0.1)});
  add(cs, {"binary_cross_entropy_with_logits", "6x4", {in({6, 4}), in({6, 4}, Kind::prob)},
           [](const Ts& t) { return binary_cross_entropy_with_logits(t[0], t[1]); }, [](const Hs& h) {
             double s = 0;
             for (int64_t i = 0; i < h[0].numel(); ++i) {
               const double x = h[0].v[i], y = h[1].v[i], p = 1 / (1 + std::exp(-x));
               s += -(y * std::log(p) + (1 - y) * std::log(1 - p));
             }
             return Host{{}, {s / static_cast<double>(h[0].numel())}};
           }});
  add(cs, {"mse_loss", "5x3_noncontig", {in({5, 3}, Kind::real, true), in({5, 3})},
           [](const Ts& t) { return mse_loss(t[0], t[1]); }, [](const Hs& h) {
             double s = 0;
             for (int64_t i = 0; i < h[0].numel(); ++i) s += (h[0].v[i] - h[1].v[i]) * (h[0].v[i] - h[1].v[i]);
             return Host{{}, {s / static_cast<double>(h[0].numel())}};
           }});
  // ---- views (differentiable; made contiguous so values are produced) ----
  add(cs, {"permute", "2x3x4_to_4x2x3", {in({2, 3, 4})}, [](const Ts& t) { return t[0].permute({2, 0, 1}).contiguous(); },
           [](const Hs& h) { return permute_ref(h[0], {2, 0, 1}); }});
  add(cs, {"transpose", "5x3", {in({5, 3})}, [](const Ts& t) { return t[0].transpose(0, 1).contiguous(); },
           [](const Hs& h) { return transpose_last(h[0]); }});
  add(cs, {"reshape", "noncontig_4x6_to_3x8", {in({4, 6}, Kind::real, true)}, [](const Ts& t) { return t[0].reshape({3, 8}); },
           [](const Hs& h) { return Host{{3, 8}, h[0].v}; }});
  add(cs, {"slice", "dim1_step2_4x9", {in({4, 9})}, [](const Ts& t) { return t[0].slice(1, 1, 8, 2).contiguous(); }, [](const Hs& h) {
             Host out = host_zeros({4, 4});
             for (int64_t i = 0; i < 4; ++i)
               for (int64_t j = 0; j < 4; ++j) out.v[i * 4 + j] = h[0].v[i * 9 + 1 + 2 * j];
             return out;
           }});
  add(cs, {"select", "dim0_idx-2_5x3", {in({5, 3})}, [](const Ts& t) { return t[0].select(0, -2).contiguous(); }, [](const Hs& h) {
             return Host{{3}, {h[0].v[9], h[0].v[10], h[0].v[11]}};
           }});
  add(cs, {"expand", "3x1_to_2x3x4", {in({3, 1})}, [](const Ts& t) { return t[0].expand({2, 3, 4}).contiguous(); }, [](const Hs& h) {
             return map_n({h[0], host_zeros({2, 3, 4})}, [](const std::vector<double>& v) { return v[0]; });
           }});
  add(cs, {"squeeze", "3x1x4", {in({3, 1, 4})}, [](const Ts& t) { return t[0].squeeze(1); },
           [](const Hs& h) { return Host{{3, 4}, h[0].v}; }});
  add(cs, {"unsqueeze", "noncontig_3x4_at-1", {in({3, 4}, Kind::real, true)}, [](const Ts& t) { return t[0].unsqueeze(-1).contiguous(); },
           [](const Hs& h) { return Host{{3, 4, 1}, h[0].v}; }});
  // ---- dtype conversions: round to nearest even, checked against an independent rounding model ----
  add(cs, {"to_bf16", "roundtrip_7x9", {in({7, 9})}, [](const Ts& t) { return t[0].to(DType::bf16).to(t[0].dtype()); },
           [](const Hs& h) { return map1(h[0], [](double x) { return round_to_bits(static_cast<float>(x), 8, -126); }); }, false});
  add(cs, {"to_f16", "roundtrip_7x9", {in({7, 9})}, [](const Ts& t) { return t[0].to(DType::f16).to(t[0].dtype()); },
           [](const Hs& h) { return map1(h[0], [](double x) { return round_to_bits(static_cast<float>(x), 11, -14); }); }, false});
  add(cs, {"to_f16", "tiny_subnormals_6x5", {in({6, 5})}, [](const Ts& t) { return mul(t[0], 1e-6).to(DType::f16).to(t[0].dtype()); },
           [](const Hs& h) { return map1(h[0], [](double x) { return round_to_bits(static_cast<float>(x * 1e-6), 11, -14); }); }, false});
  conv_cases(cs);
  return cs;
}

}  // namespace

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = build();
  return cases;
}

const std::vector<std::string>& required_ops() {
  static const std::vector<std::string> ops = {
      "add", "sub", "mul", "div", "add_scalar", "sub_scalar", "rsub_scalar", "mul_scalar", "div_scalar",
      "rdiv_scalar", "neg", "exp", "log", "sqrt", "rsqrt", "pow", "tanh", "sigmoid", "silu", "relu", "gelu_erf",
      "gelu_tanh", "where", "masked_fill", "clamp", "sum", "mean", "max", "argmax", "var", "matmul", "linear",
      "softmax", "log_softmax", "layer_norm", "rms_norm", "add_layer_norm", "bias_dropout_add_layer_norm", "bias_gelu", "linear_bias_gelu", "scaled_dot_product_attention", "dropout", "embedding", "cross_entropy",
      "binary_cross_entropy_with_logits", "mse_loss", "concat", "stack", "index_select", "index_scatter", "one_hot", "to_bf16",
      "to_f16", "permute", "transpose", "reshape", "slice", "select", "expand", "squeeze", "unsqueeze",
      "im2col", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm"};
  return ops;
}

}  // namespace ft::opcheck
