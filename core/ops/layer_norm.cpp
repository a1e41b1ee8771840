// layer_norm over the last dim. Saves mean and rstd (f32 for f32 inputs) for the backward, which
// computes dx, dweight and dbias in one kernel, each only when needed.
#include "core/dispatch.h"
#include "core/ops.h"
#include "kernels/cpu/layer_norm.h"

namespace ft {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_cpu("layer_norm", {&x, &weight, &bias});
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
  Tensor out = empty(x.shape(), x.dtype());
  Tensor mean = empty({rows}, x.dtype()), rstd = empty({rows}, x.dtype());
  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    kern::layer_norm_fwd<T>(xc.data<T>(), w.defined() ? w.data<T>() : nullptr,
                            b.defined() ? b.data<T>() : nullptr, rows, n, eps, out.data<T>(),
                            mean.data<T>(), rstd.data<T>());
  });
  return attach(out, "layer_norm", {x, weight, bias},
                [xc, w, mean, rstd, rows, n](const Tensor& g, const std::vector<bool>& need) {
    Tensor gc = g.contiguous();
    std::vector<Tensor> grads(3);
    if (need[0]) grads[0] = empty(xc.shape(), xc.dtype());
    if (need[1]) grads[1] = empty({n}, xc.dtype());
    if (need[2]) grads[2] = empty({n}, xc.dtype());
    dispatch_float(xc.dtype(), "layer_norm_backward", [&](auto tag) {
      using T = decltype(tag);
      auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
      kern::layer_norm_bwd<T>(gc.data<T>(), xc.data<T>(), mean.data<T>(), rstd.data<T>(), ptr(w), rows,
                              n, ptr(grads[0]), ptr(grads[1]), ptr(grads[2]));
    });
    return grads;
  });
}

}  // namespace ft
