// layer_norm over the last dim, and add_layer_norm = layer_norm(x + residual) fused (the BERT
// pattern after attention and feed-forward). Both save mean and rstd (f32, f64 for f64 inputs) for
// the backward, which computes dx, dweight and dbias in one kernel, each only when needed. The
// fused op's composite definition is layer_norm(add(x, residual)); the op harness checks the two
// against each other, forward and backward.
#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {
namespace {

Tensor layer_norm_impl(const char* op, const Tensor& x, const Tensor& residual, const Tensor& weight,
                       const Tensor& bias, double eps) {
  Backend& be = compute_backend(op, {&x, &residual, &weight, &bias});
  FT_CHECK(x.dim() >= 1, op, ": expects at least one dim");
  const int64_t n = x.size(-1), rows = n ? x.numel() / n : 0;
  if (residual.defined()) {
    check_same_dtype(op, x, residual);
    FT_CHECK(residual.shape() == x.shape(), op, ": residual ", shape_str(residual.shape()),
             " must have the shape of the input ", shape_str(x.shape()));
  }
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    check_same_dtype(op, x, *p);
    FT_CHECK(p->dim() == 1 && p->size(0) == n, op, ": ", p == &weight ? "weight " : "bias ", shape_str(p->shape()),
             " does not match normalized size ", n, " of input ", shape_str(x.shape()));
  }
  Tensor xc = x.detach().contiguous();
  Tensor rc = residual.defined() ? residual.detach().contiguous() : Tensor();
  Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty(x.shape(), like(x));
  Tensor normed_input = rc.defined() ? empty(x.shape(), like(x)) : xc;  // x + residual when fused
  // Statistics in f32 (f64 for f64 inputs): the backward reuses them.
  const TensorOptions stats = TensorOptions(x.dtype() == DType::f64 ? DType::f64 : DType::f32).with_device(x.device());
  Tensor mean = empty({rows}, stats), rstd = empty({rows}, stats);
  be.layer_norm_fwd(elem_of(x), xc.raw_data(), ptr(w), ptr(b), rows, n, eps, out.raw_data(), mean.raw_data(),
                    rstd.raw_data(), ptr(rc), rc.defined() ? normed_input.raw_data() : nullptr);
  return attach(out, op, {x, residual, weight, bias},
                [s = normed_input, w, mean, rstd, rows, n](const Tensor& g, const std::vector<bool>& need) {
    Tensor gc = g.contiguous();
    std::vector<Tensor> grads(4);
    Tensor ds = (need[0] || need[1]) ? empty(s.shape(), like(s)) : Tensor();
    if (need[2]) grads[2] = empty({n}, like(s));
    if (need[3]) grads[3] = empty({n}, like(s));
    backend_of("layer_norm_backward", {&s}).layer_norm_bwd(elem_of(s), gc.raw_data(), s.raw_data(), mean.raw_data(),
                                                           rstd.raw_data(), ptr(w), rows, n, ptr(ds), ptr(grads[2]),
                                                           ptr(grads[3]));
    // d(x + residual) flows to both addends unchanged.
    if (need[0]) grads[0] = ds;
    if (need[1]) grads[1] = ds;
    return grads;
  });
}

// Under autocast LayerNorm is on the f32 list: every input in f32, the output f32.
Tensor add_layer_norm_or_not(const char* op, const Tensor& x, const Tensor& residual, const Tensor& weight,
                             const Tensor& bias, double eps) {
  if (autocast::enabled()) {
    const Tensor fx = autocast::to_f32(x), fr = autocast::to_f32(residual);
    const Tensor fw = autocast::to_f32(weight), fb = autocast::to_f32(bias);
    autocast::Disable off;
    return layer_norm_impl(op, fx, fr, fw, fb, eps);
  }
  return layer_norm_impl(op, x, residual, weight, bias, eps);
}

}  // namespace

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  const bool low = x.dtype() == DType::bf16 || x.dtype() == DType::f16;
  const Tensor xf = low ? x.to(DType::f32) : x;
  const Tensor normed = mul(xf, rsqrt(add(mean(mul(xf, xf), {-1}, true), eps)));
  return mul(weight, low ? normed.to(x.dtype()) : normed);
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  return add_layer_norm_or_not("layer_norm", x, Tensor(), weight, bias, eps);
}

Tensor add_layer_norm(const Tensor& x, const Tensor& residual, const Tensor& weight, const Tensor& bias, double eps) {
  FT_CHECK(residual.defined(), "add_layer_norm: residual must be defined");
  return add_layer_norm_or_not("add_layer_norm", x, residual, weight, bias, eps);
}

}  // namespace ft
