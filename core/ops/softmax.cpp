// softmax and log_softmax over the last dim, forward and backward.
#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {
namespace {

Tensor softmax_impl(const Tensor& a, int64_t dim, bool log) {
  if (autocast::enabled() && a.dtype() != DType::f32) {  // on autocast's f32 list
    const Tensor fa = autocast::to_f32(a);
    autocast::Disable off;
    return softmax_impl(fa, dim, log);
  }
  const char* name = log ? "log_softmax" : "softmax";
  Backend& be = compute_backend(name, {&a});
  FT_CHECK(a.dim() >= 1, name, ": expects at least one dim");
  FT_CHECK(wrap_dim(dim, a.dim(), name) == a.dim() - 1, name, ": only the last dim is supported, got dim ",
           dim, " for shape ", shape_str(a.shape()));
  Tensor x = a.detach().contiguous();
  const int64_t n = a.size(-1), rows = n ? a.numel() / n : 0;
  Tensor out = empty(a.shape(), like(a));
  be.softmax_fwd(elem_of(a), x.raw_data(), rows, n, log, out.raw_data());
  Tensor y = out.detach();
  return attach(out, name, {a}, [y, rows, n, log](const Tensor& g, const std::vector<bool>&) {
    Tensor gc = g.contiguous();
    Tensor dx = empty(y.shape(), like(y));
    backend_of("softmax_backward", {&y}).softmax_bwd(elem_of(y), gc.raw_data(), y.raw_data(), rows, n, log,
                                                     dx.raw_data());
    return std::vector<Tensor>{dx};
  });
}

}  // namespace

Tensor softmax(const Tensor& a, int64_t dim) { return softmax_impl(a, dim, false); }
Tensor log_softmax(const Tensor& a, int64_t dim) { return softmax_impl(a, dim, true); }

}  // namespace ft
