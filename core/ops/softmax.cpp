// softmax and log_softmax over the last dim, forward and backward.
#include "core/dispatch.h"
#include "core/ops.h"
#include "kernels/cpu/softmax.h"

namespace ft {
namespace {

Tensor softmax_impl(const Tensor& a, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  check_cpu(name, {&a});
  FT_CHECK(a.dim() >= 1, name, ": expects at least one dim");
  FT_CHECK(wrap_dim(dim, a.dim(), name) == a.dim() - 1, name, ": only the last dim is supported, got dim ",
           dim, " for shape ", shape_str(a.shape()));
  Tensor x = a.detach().contiguous();
  const int64_t n = a.size(-1), rows = n ? a.numel() / n : 0;
  Tensor out = empty(a.shape(), a.dtype());
  dispatch_float(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    kern::softmax_fwd<T>(x.data<T>(), rows, n, log, out.data<T>());
  });
  Tensor y = out.detach();
  return attach(out, name, {a}, [y, rows, n, log](const Tensor& g, const std::vector<bool>&) {
    Tensor gc = g.contiguous();
    Tensor dx = empty(y.shape(), y.dtype());
    dispatch_float(y.dtype(), "softmax_backward", [&](auto tag) {
      using T = decltype(tag);
      kern::softmax_bwd<T>(gc.data<T>(), y.data<T>(), rows, n, log, dx.data<T>());
    });
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor softmax(const Tensor& a, int64_t dim) { return softmax_impl(a, dim, false); }
Tensor log_softmax(const Tensor& a, int64_t dim) { return softmax_impl(a, dim, true); }

}  // namespace ft
