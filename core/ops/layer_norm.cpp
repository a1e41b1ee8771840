// layer_norm over the last dim. Saves mean and rstd (f32 for f32 inputs) for the backward, which
// computes dx, dweight and dbias in one kernel, each only when needed.
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  Backend& be = compute_backend("layer_norm", {&x, &weight, &bias});
  FT_CHECK(x.dim() >= 1, "layer_norm: expects at least one dim");
  const int64_t n = x.size(-1), rows = n ? x.numel() / n : 0;
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    check_same_dtype("layer_norm", x, *p);
    FT_CHECK(p->dim() == 1 && p->size(0) == n, "layer_norm: ", p == &weight ? "weight " : "bias ",
             shape_str(p->shape()), " does not match normalized size ", n, " of input ", shape_str(x.shape()));
  }
  Tensor xc = x.detach().contiguous();
  Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = empty(x.shape(), like(x));
  // Statistics in f32 (f64 for f64 inputs): the backward reuses them.
  const TensorOptions stats = TensorOptions(x.dtype() == DType::f64 ? DType::f64 : DType::f32).with_device(x.device());
  Tensor mean = empty({rows}, stats), rstd = empty({rows}, stats);
  be.layer_norm_fwd(elem_of(x), xc.raw_data(), ptr(w), ptr(b), rows, n, eps, out.raw_data(), mean.raw_data(),
                    rstd.raw_data());
  return attach(out, "layer_norm", {x, weight, bias},
                [xc, w, mean, rstd, rows, n](const Tensor& g, const std::vector<bool>& need) {
    Tensor gc = g.contiguous();
    std::vector<Tensor> grads(3);
    if (need[0]) grads[0] = empty(xc.shape(), like(xc));
    if (need[1]) grads[1] = empty({n}, like(xc));
    if (need[2]) grads[2] = empty({n}, like(xc));
    backend_of("layer_norm_backward", {&xc}).layer_norm_bwd(elem_of(xc), gc.raw_data(), xc.raw_data(), mean.raw_data(),
                                                            rstd.raw_data(), ptr(w), rows, n, ptr(grads[0]),
                                                            ptr(grads[1]), ptr(grads[2]));
    return grads;
  });
}

}  // namespace ft
