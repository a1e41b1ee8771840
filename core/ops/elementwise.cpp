// Elementwise ops with NumPy broadcasting, scalar operands, and their backward formulas.
#include <cmath>
#include <limits>

#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {

using kern::BinaryOp;
using kern::UnaryOp;
using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    FT_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
             " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  FT_INTERNAL(lead >= 0);
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < g.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && g.shape()[i] != 1)) dims.push_back(i);
  Tensor s = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

namespace {

Tensor unary_kernel(const char* name, UnaryOp op, const Tensor& a, double p0 = 0, double p1 = 0) {
  Backend& be = compute_backend(name, {&a});
  Tensor out = empty(a.shape(), like(a));
  be.unary(op, p0, p1, elem_of(a), a.raw_data(), strided_of(a), out.raw_data());
  return out;
}

Tensor binary_kernel(const char* name, BinaryOp op, const Tensor& a, const Tensor& b, double p0 = 0,
                     double p1 = 0) {
  Backend& be = compute_backend(name, {&a, &b});
  check_same_dtype(name, a, b);
  const Shape s = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(s, like(a));
  be.binary(op, p0, p1, elem_of(a), a.raw_data(), strided_as(a, s), b.raw_data(), strided_as(b, s), out.raw_data());
  return out;
}

Tensor grad_or_none(bool need, const std::function<Tensor()>& f) { return need ? f() : Tensor(); }

}  // namespace

// ---- binary ----

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("add", BinaryOp::add, a, b);
  Shape sa = a.shape(), sb = b.shape();
  return attach(out, "add", {a, b}, [sa, sb](const Tensor& g, const Needs& n) {
    return Grads{grad_or_none(n[0], [&] { return sum_to(g, sa); }),
                 grad_or_none(n[1], [&] { return sum_to(g, sb); })};
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("sub", BinaryOp::sub, a, b);
  Shape sa = a.shape(), sb = b.shape();
  return attach(out, "sub", {a, b}, [sa, sb](const Tensor& g, const Needs& n) {
    return Grads{grad_or_none(n[0], [&] { return sum_to(g, sa); }),
                 grad_or_none(n[1], [&] { return neg(sum_to(g, sb)); })};
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("mul", BinaryOp::mul, a, b);
  if (!any_requires_grad({&a, &b})) return out;
  Tensor sa = a.detach(), sb = b.detach();
  return attach(out, "mul", {a, b}, [sa, sb](const Tensor& g, const Needs& n) {
    return Grads{grad_or_none(n[0], [&] { return sum_to(mul(g, sb), sa.shape()); }),
                 grad_or_none(n[1], [&] { return sum_to(mul(g, sa), sb.shape()); })};
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_kernel("div", BinaryOp::div, a, b);
  if (!any_requires_grad({&a, &b})) return out;
  Tensor sa = a.detach(), sb = b.detach();
  return attach(out, "div", {a, b}, [sa, sb](const Tensor& g, const Needs& n) {
    return Grads{grad_or_none(n[0], [&] { return sum_to(div(g, sb), sa.shape()); }),
                 grad_or_none(n[1], [&] { return sum_to(neg(div(mul(g, sa), mul(sb, sb))), sb.shape()); })};
  });
}

// ---- scalar operands ----

Tensor add(const Tensor& a, double s) {
  return attach(unary_kernel("add", UnaryOp::add_scalar, a, s), "add_scalar", {a},
                [](const Tensor& g, const Needs&) { return Grads{g}; });
}
Tensor sub(const Tensor& a, double s) { return add(a, -s); }
Tensor rsub(const Tensor& a, double s) {
  return attach(unary_kernel("rsub", UnaryOp::rsub_scalar, a, s), "rsub_scalar", {a},
                [](const Tensor& g, const Needs&) { return Grads{neg(g)}; });
}
Tensor mul(const Tensor& a, double s) {
  return attach(unary_kernel("mul", UnaryOp::mul_scalar, a, s), "mul_scalar", {a},
                [s](const Tensor& g, const Needs&) { return Grads{mul(g, s)}; });
}
Tensor div(const Tensor& a, double s) {
  return attach(unary_kernel("div", UnaryOp::div_scalar, a, s), "div_scalar", {a},
                [s](const Tensor& g, const Needs&) { return Grads{div(g, s)}; });
}
Tensor rdiv(const Tensor& a, double s) {
  Tensor out = unary_kernel("rdiv", UnaryOp::rdiv_scalar, a, s);
  if (!any_requires_grad({&a})) return out;
  Tensor sa = a.detach();
  return attach(out, "rdiv_scalar", {a}, [sa, s](const Tensor& g, const Needs&) {
    return Grads{mul(div(g, mul(sa, sa)), -s)};  // d(s/a) = -s/a^2
  });
}

// ---- unary ----

Tensor neg(const Tensor& a) {
  return attach(unary_kernel("neg", UnaryOp::neg, a), "neg", {a},
                [](const Tensor& g, const Needs&) { return Grads{neg(g)}; });
}

Tensor exp(const Tensor& a) {
  Tensor out = unary_kernel("exp", UnaryOp::exp, a);
  Tensor y = out.detach();
  return attach(out, "exp", {a}, [y](const Tensor& g, const Needs&) { return Grads{mul(g, y)}; });
}

Tensor log(const Tensor& a) {
  Tensor out = unary_kernel("log", UnaryOp::log, a);
  if (!any_requires_grad({&a})) return out;
  Tensor x = a.detach();
  return attach(out, "log", {a}, [x](const Tensor& g, const Needs&) { return Grads{div(g, x)}; });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = unary_kernel("sqrt", UnaryOp::sqrt, a);
  Tensor y = out.detach();
  return attach(out, "sqrt", {a}, [y](const Tensor& g, const Needs&) {
    return Grads{div(g, mul(y, 2.0))};  // d sqrt(x) = 1 / (2 sqrt(x))
  });
}

Tensor rsqrt(const Tensor& a) {
  Tensor out = unary_kernel("rsqrt", UnaryOp::rsqrt, a);
  Tensor y = out.detach();
  return attach(out, "rsqrt", {a}, [y](const Tensor& g, const Needs&) {
    return Grads{mul(mul(g, mul(y, mul(y, y))), -0.5)};  // d x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
  });
}

Tensor pow(const Tensor& a, double p) {
  Tensor out = unary_kernel("pow", UnaryOp::pow, a, p);
  if (!any_requires_grad({&a})) return out;
  Tensor x = a.detach();
  return attach(out, "pow", {a}, [x, p](const Tensor& g, const Needs&) {
    return Grads{binary_kernel("pow_backward", BinaryOp::pow_grad, g, x, p)};
  });
}

Tensor tanh(const Tensor& a) {
  Tensor out = unary_kernel("tanh", UnaryOp::tanh, a);
  Tensor y = out.detach();
  return attach(out, "tanh", {a}, [y](const Tensor& g, const Needs&) {
    return Grads{binary_kernel("tanh_backward", BinaryOp::tanh_grad, g, y)};
  });
}

Tensor silu(const Tensor& a) { return mul(a, sigmoid(a)); }

Tensor sigmoid(const Tensor& a) {
  Tensor out = unary_kernel("sigmoid", UnaryOp::sigmoid, a);
  Tensor y = out.detach();
  return attach(out, "sigmoid", {a}, [y](const Tensor& g, const Needs&) {
    return Grads{binary_kernel("sigmoid_backward", BinaryOp::sigmoid_grad, g, y)};
  });
}

Tensor relu(const Tensor& a) {
  Tensor out = unary_kernel("relu", UnaryOp::relu, a);
  if (!any_requires_grad({&a})) return out;
  Tensor x = a.detach();
  return attach(out, "relu", {a}, [x](const Tensor& g, const Needs&) {
    return Grads{binary_kernel("relu_backward", BinaryOp::relu_grad, g, x)};
  });
}

Tensor gelu(const Tensor& a, GeluApprox approx) {
  const bool exact = approx == GeluApprox::none;
  Tensor out = unary_kernel("gelu", exact ? UnaryOp::gelu_erf : UnaryOp::gelu_tanh, a);
  if (!any_requires_grad({&a})) return out;
  Tensor x = a.detach();
  return attach(out, "gelu", {a}, [x, exact](const Tensor& g, const Needs&) {
    return Grads{binary_kernel("gelu_backward", exact ? BinaryOp::gelu_erf_grad : BinaryOp::gelu_tanh_grad, g, x)};
  });
}

Tensor clamp(const Tensor& a, std::optional<double> lo_in, std::optional<double> hi_in) {
  const double lo = lo_in.value_or(-std::numeric_limits<double>::infinity());
  const double hi = hi_in.value_or(std::numeric_limits<double>::infinity());
  Tensor out = unary_kernel("clamp", UnaryOp::clamp, a, lo, hi);
  if (!any_requires_grad({&a})) return out;
  Tensor x = a.detach();
  return attach(out, "clamp", {a}, [x, lo, hi](const Tensor& g, const Needs&) {
    return Grads{binary_kernel("clamp_backward", BinaryOp::clamp_grad, g, x, lo, hi)};
  });
}

// ---- selection ----

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Backend& be = compute_backend("where", {&a, &b, &cond});
  FT_CHECK(cond.dtype() == DType::boolean, "where: condition must be bool, got ", cond.dtype());
  check_same_dtype("where", a, b);
  const Shape s = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = empty(s, like(a));
  be.where(cond.raw_data(), strided_as(cond, s), elem_of(a), a.raw_data(), strided_as(a, s), b.raw_data(),
           strided_as(b, s), out.raw_data());
  if (!any_requires_grad({&a, &b})) return out;
  Tensor c = cond.detach();
  Shape sa = a.shape(), sb = b.shape();
  return attach(out, "where", {cond, a, b}, [c, sa, sb](const Tensor& g, const Needs& n) {
    Tensor zero = zeros({}, like(g));
    return Grads{Tensor(), grad_or_none(n[1], [&] { return sum_to(where(c, g, zero), sa); }),
                 grad_or_none(n[2], [&] { return sum_to(where(c, zero, g), sb); })};
  });
}

Tensor where(const Tensor& cond, double a, const Tensor& b) {
  return where(cond, full({}, a, TensorOptions(b.dtype()).with_device(b.device())), b);
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) { return where(mask, value, a); }

// ---- comparisons (bool results, no gradient) ----

namespace {
Tensor as_float(const Tensor& t) { return is_floating(t.dtype()) && t.dtype() != DType::bf16 && t.dtype() != DType::f16 ? t.detach() : t.detach().to(DType::f64); }
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) {
  Tensor fa = as_float(a), fb = as_float(b);
  if (fa.dtype() != fb.dtype()) fa = fa.to(DType::f64), fb = fb.to(DType::f64);
  return binary_kernel("eq", BinaryOp::eq, fa, fb).to(DType::boolean);
}
Tensor gt(const Tensor& a, double s) { return unary_kernel("gt", UnaryOp::gt_scalar, as_float(a), s).to(DType::boolean); }
Tensor lt(const Tensor& a, double s) { return unary_kernel("lt", UnaryOp::lt_scalar, as_float(a), s).to(DType::boolean); }

}  // namespace ft
