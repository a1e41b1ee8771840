// Fused pointwise ops of the transformer layer, each with its composite definition beside it; a
// backend that implements one (Backend::implementation) runs it in one kernel, any other runs the
// composite. The op table checks each against a plain reference, and tests/core/test_ops.cpp
// checks fused == composite, forward and backward, dropout masks included.
//   bias_gelu(x, b)                               = gelu(x + b)
//   bias_dropout_add_layer_norm(x, b, r, w, lb)   = layer_norm(dropout(x + b) + r, w, lb)
// Dropout draws what the composite's dropout of the [.., n] tensor draws: one generator advance of
// numel values, value i for element i.
#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {
namespace {

int64_t last_dim(const char* op, const Tensor& x) {
  FT_CHECK(x.dim() >= 1, op, ": expects at least one dim");
  return x.size(-1);
}

// A per-column vector (bias, LayerNorm weight) of the op's input: 1-D of the last dim's size.
void check_column_vector(const char* op, const char* what, const Tensor& v, const Tensor& x) {
  if (!v.defined()) return;
  check_same_dtype(op, x, v);
  FT_CHECK(v.dim() == 1 && v.size(0) == x.size(-1), op, ": ", what, " ", shape_str(v.shape()),
           " does not match the last dim of the input ", shape_str(x.shape()));
}

// Column sums of contiguous [rows, n]: a bias gradient.
Tensor column_sums(const Tensor& g, int64_t rows, int64_t n) {
  Tensor out = empty({n}, like(g));
  backend_of("bias_backward", {&g}).reduce_sum(elem_of(g), g.raw_data(), 1, rows, n, out.raw_data());
  return out;
}

Tensor maybe_contiguous(const Tensor& t) { return t.defined() ? t.detach().contiguous() : Tensor(); }

}  // namespace

Tensor bias_gelu_composite(const Tensor& x, const Tensor& bias, GeluApprox approx) {
  return gelu(add(x, bias), approx);
}

Tensor bias_gelu(const Tensor& x, const Tensor& bias, GeluApprox approx) {
  if (autocast::enabled() && bias.defined() && bias.dtype() != x.dtype()) {
    // The bias belongs to the GEMM before it, which autocast runs in the low dtype: it joins x's.
    const Tensor b = bias.to(x.dtype());
    autocast::Disable off;
    return bias_gelu(x, b, approx);
  }
  const char* op = "bias_gelu";
  Backend& be = compute_backend(op, {&x, &bias});
  const int64_t n = last_dim(op, x), rows = n ? x.numel() / n : 0;
  FT_CHECK(bias.defined(), op, ": bias must be defined (use gelu without one)");
  check_column_vector(op, "bias", bias, x);
  if (!be.implements(kern::OptionalOp::bias_gelu, elem_of(x))) return bias_gelu_composite(x, bias, approx);
  const bool exact = approx == GeluApprox::none;
  Tensor xc = x.detach().contiguous(), bc = bias.detach().contiguous();
  Tensor out = empty(x.shape(), like(x));
  be.bias_gelu_fwd(elem_of(x), exact, xc.raw_data(), bc.raw_data(), rows, n, out.raw_data());
  return attach(out, op, {x, bias}, [xc, bc, rows, n, exact](const Tensor& g, const std::vector<bool>& need) {
    Tensor gc = g.contiguous();
    Tensor dx = empty(xc.shape(), like(xc));
    backend_of("bias_gelu_backward", {&gc})
        .bias_gelu_bwd(elem_of(gc), exact, gc.raw_data(), xc.raw_data(), bc.raw_data(), rows, n, dx.raw_data());
    std::vector<Tensor> grads(2);
    if (need[1]) grads[1] = column_sums(dx, rows, n);
    if (need[0]) grads[0] = dx;
    return grads;
  });
}

Tensor bias_dropout_add_layer_norm_composite(const Tensor& x, const Tensor& x_bias, const Tensor& residual,
                                             const Tensor& weight, const Tensor& bias, double eps, double p,
                                             bool training, Generator* gen) {
  Tensor pre = dropout(x_bias.defined() ? add(x, x_bias) : x, p, training, gen);
  return residual.defined() ? add_layer_norm(pre, residual, weight, bias, eps) : layer_norm(pre, weight, bias, eps);
}

Tensor bias_dropout_add_layer_norm(const Tensor& x, const Tensor& x_bias, const Tensor& residual, const Tensor& weight,
                                   const Tensor& bias, double eps, double p, bool training, Generator* gen) {
  if (autocast::enabled()) {  // LayerNorm's f32 list: every input in f32
    const Tensor fx = autocast::to_f32(x), fxb = autocast::to_f32(x_bias), fr = autocast::to_f32(residual);
    const Tensor fw = autocast::to_f32(weight), fb = autocast::to_f32(bias);
    autocast::Disable off;
    return bias_dropout_add_layer_norm(fx, fxb, fr, fw, fb, eps, p, training, gen);
  }
  const char* op = "bias_dropout_add_layer_norm";
  Backend& be = compute_backend(op, {&x, &x_bias, &residual, &weight, &bias});
  const int64_t n = last_dim(op, x), rows = n ? x.numel() / n : 0;
  FT_CHECK(p >= 0 && p <= 1, op, ": dropout probability must be in [0, 1], got ", p);
  check_column_vector(op, "x_bias", x_bias, x);
  check_column_vector(op, "weight", weight, x);
  check_column_vector(op, "bias", bias, x);
  if (residual.defined()) {
    check_same_dtype(op, x, residual);
    FT_CHECK(residual.shape() == x.shape(), op, ": residual ", shape_str(residual.shape()),
             " must have the shape of the input ", shape_str(x.shape()));
  }
  const bool drop = training && p > 0;
  if (!be.implements(kern::OptionalOp::bias_dropout_add_layer_norm, elem_of(x)) || (drop && p == 1))
    return bias_dropout_add_layer_norm_composite(x, x_bias, residual, weight, bias, eps, p, training, gen);
  kern::BiasDropoutLayerNormArgs a;
  a.rows = rows, a.n = n, a.eps = eps;
  Tensor xc = x.detach().contiguous(), xb = maybe_contiguous(x_bias), rc = maybe_contiguous(residual);
  Tensor w = maybe_contiguous(weight), lb = maybe_contiguous(bias);
  a.x = xc.raw_data(), a.x_bias = ptr(xb), a.residual = ptr(rc), a.weight = ptr(w), a.bias = ptr(lb);
  Tensor keep;
  if (drop) {
    Generator& g = gen ? *gen : default_generator();
    a.drop = kern::DropoutArgs{p, g.seed(), g.advance(static_cast<uint64_t>(x.numel()))};
    keep = empty({x.numel()}, TensorOptions(DType::boolean).with_device(x.device()));
    a.keep = static_cast<uint8_t*>(keep.raw_data());
  }
  const TensorOptions stats = TensorOptions(x.dtype() == DType::f64 ? DType::f64 : DType::f32).with_device(x.device());
  Tensor s = empty(x.shape(), like(x)), y = empty(x.shape(), like(x));
  Tensor mean = empty({rows}, stats), rstd = empty({rows}, stats);
  a.sum_out = s.raw_data(), a.y = y.raw_data(), a.mean = mean.raw_data(), a.rstd = rstd.raw_data();
  be.bias_dropout_layer_norm_fwd(elem_of(x), a);
  const double scale = drop ? 1.0 / (1.0 - p) : 1.0;
  return attach(y, op, {x, x_bias, residual, weight, bias},
                [s, w, mean, rstd, keep, rows, n, scale](const Tensor& g, const std::vector<bool>& need) {
    Tensor gc = g.contiguous();
    Backend& be = backend_of("bias_dropout_add_layer_norm_backward", {&gc});
    std::vector<Tensor> grads(5);
    Tensor ds = (need[0] || need[1] || need[2]) ? empty(s.shape(), like(s)) : Tensor();
    if (need[3]) grads[3] = empty({n}, like(s));
    if (need[4]) grads[4] = empty({n}, like(s));
    be.layer_norm_bwd(elem_of(s), gc.raw_data(), s.raw_data(), mean.raw_data(), rstd.raw_data(), ptr(w), rows, n,
                      ptr(ds), ptr(grads[3]), ptr(grads[4]));
    if (need[2]) grads[2] = ds;  // the residual enters the sum unchanged
    if (need[0] || need[1]) {
      Tensor dx = ds;
      if (keep.defined()) {
        dx = empty(s.shape(), like(s));
        be.apply_mask(elem_of(s), ds.raw_data(), static_cast<const uint8_t*>(keep.raw_data()), scale, rows * n,
                      dx.raw_data());
      }
      if (need[1]) grads[1] = column_sums(dx, rows, n);
      if (need[0]) grads[0] = dx;
    }
    return grads;
  });
}

// linear_bias_gelu(x, w, b) = gelu(linear(x, w, b)). A backend with a GEMM epilogue for it (CUDA's
// cuBLASLt GELU_AUX_BIAS, which computes the tanh approximation only, for out-features a multiple of
// 8) runs the GEMM, the bias and the GELU in one call and keeps the pre-activation for the backward;
// otherwise a bias-free GEMM and then bias_gelu (the CPU's fused kernel), the same function.
Tensor linear_bias_gelu_composite(const Tensor& x, const Tensor& w, const Tensor& b, GeluApprox approx) {
  return gelu(linear(x, w, b), approx);
}

Tensor linear_bias_gelu(const Tensor& x, const Tensor& w, const Tensor& b, GeluApprox approx) {
  if (autocast::enabled()) {  // a GEMM: autocast's low-precision list, bias included
    const Tensor lx = autocast::to_low(x), lw = autocast::to_low(w), lb = autocast::to_low(b);
    autocast::Disable off;
    return linear_bias_gelu(lx, lw, lb, approx);
  }
  const char* op = "linear_bias_gelu";
  Backend& be = compute_backend(op, {&x, &w, &b});
  FT_CHECK(b.defined(), op, ": bias must be defined (use gelu(linear(x, w)) without one)");
  const bool fused = approx == GeluApprox::tanh && be.implements(kern::OptionalOp::linear_bias_gelu, elem_of(x)) &&
                     w.dim() == 2 && w.size(0) % 8 == 0;
  if (!fused) return bias_gelu(linear(x, w), b, approx);
  check_same_dtype(op, x, w);
  check_same_dtype(op, x, b);
  FT_CHECK(x.dim() >= 1 && x.size(-1) == w.size(1), op, ": input ", shape_str(x.shape()), " does not match weight ",
           shape_str(w.shape()));
  FT_CHECK(b.dim() == 1 && b.size(0) == w.size(0), op, ": bias ", shape_str(b.shape()), " does not match weight ",
           shape_str(w.shape()));
  const int64_t k = w.size(1), n = w.size(0);
  const Tensor x2 = x.detach().reshape({-1, k}).contiguous(), wc = w.detach().contiguous(), bc = b.detach().contiguous();
  const int64_t m = x2.size(0);
  Tensor out = empty({m, n}, like(x)), aux = empty({m, n}, like(x));
  be.linear_bias_gelu_fwd(elem_of(x), x2.raw_data(), wc.raw_data(), bc.raw_data(), m, n, k, out.raw_data(),
                          aux.raw_data());
  Shape out_shape = x.shape();
  out_shape.back() = n;
  const Shape x_shape = x.shape();
  return attach(out.view(out_shape), op, {x, w, b}, [x2, wc, aux, m, n, k, x_shape](const Tensor& g,
                                                                                    const std::vector<bool>& need) {
    const Tensor g2 = g.reshape({m, n}).contiguous();
    Backend& bb = backend_of("linear_bias_gelu_backward", {&g2});
    const kern::Elem t = elem_of(g2);
    Tensor dh = empty({m, n}, like(g2));  // the gradient of the pre-activation, from the saved aux
    bb.binary(kern::BinaryOp::gelu_tanh_grad, 0, 0, t, g2.raw_data(), strided_of(g2), aux.raw_data(), strided_of(aux),
              dh.raw_data());
    std::vector<Tensor> grads(3);
    if (need[0]) {  // dx = dh w
      Tensor dx = empty({m, k}, like(g2));
      bb.gemm(t, false, false, m, k, n, 1.0, dh.raw_data(), n, wc.raw_data(), k, 0.0, dx.raw_data(), k);
      grads[0] = dx.view(x_shape);
    }
    if (need[1]) {  // dw = dh^T x, and db in the same GEMM
      Tensor dw = empty({n, k}, like(g2)), db = empty({n}, like(g2));
      bb.linear_wgrad_bgrad(t, dh.raw_data(), x2.raw_data(), m, n, k, dw.raw_data(), db.raw_data());
      grads[1] = dw;
      if (need[2]) grads[2] = db;
    } else if (need[2]) {
      grads[2] = column_sums(dh, m, n);
    }
    return grads;
  });
}

}  // namespace ft
