// Reductions over chosen dims (sum, mean, var, max, argmax) with keepdim, and their backwards.
#include <algorithm>
#include <cmath>

#include "core/autocast.h"
#include "core/dispatch.h"
#include "core/ops.h"

namespace ft {
namespace {

using Grads = std::vector<Tensor>;
using Needs = std::vector<bool>;

// A reduction laid out for the kernels: the input as a contiguous [outer, r, inner] block.
struct Plan {
  Tensor block;          // contiguous data in [outer, r, inner] order
  int64_t outer = 1, r = 1, inner = 1;
  Shape out_shape;       // result shape with keepdim
  Shape squeezed_shape;  // result shape without the reduced dims
  std::vector<bool> reduced;
};

Plan plan_reduction(const Tensor& a_in, std::vector<int64_t> dims, const char* op) {
  Tensor a = a_in.detach();
  const int64_t nd = a.dim();
  Plan p;
  if (nd == 0) {  // a scalar reduces to itself
    p.block = a.contiguous();
    return p;
  }
  if (dims.empty())
    for (int64_t d = 0; d < nd; ++d) dims.push_back(d);
  p.reduced.assign(static_cast<size_t>(nd), false);
  for (int64_t& d : dims) {
    d = wrap_dim(d, nd, op);
    FT_CHECK(!p.reduced[d], op, ": dim ", d, " repeated");
    p.reduced[d] = true;
  }
  for (int64_t d = 0; d < nd; ++d) {
    p.out_shape.push_back(p.reduced[d] ? 1 : a.shape()[d]);
    if (!p.reduced[d]) p.squeezed_shape.push_back(a.shape()[d]);
  }
  std::sort(dims.begin(), dims.end());
  const bool block = dims.back() - dims.front() + 1 == static_cast<int64_t>(dims.size());
  if (block && a.is_contiguous()) {
    for (int64_t d = 0; d < nd; ++d) {
      if (p.reduced[d]) p.r *= a.shape()[d];
      else if (d < dims.front()) p.outer *= a.shape()[d];
      else p.inner *= a.shape()[d];
    }
    p.block = a;
    return p;
  }
  Shape perm;
  for (int64_t d = 0; d < nd; ++d)
    if (!p.reduced[d]) perm.push_back(d), p.outer *= a.shape()[d];
  for (int64_t d : dims) perm.push_back(d), p.r *= a.shape()[d];
  p.block = a.permute(perm).contiguous();
  return p;
}

Tensor finish(const Tensor& out_keep, const Plan& p, bool keepdim) {
  return keepdim ? out_keep : out_keep.view(p.squeezed_shape);
}

}  // namespace

Tensor sum(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  if (autocast::enabled() && a.dtype() != DType::f32) {  // reductions are on the f32 list
    const Tensor fa = autocast::to_f32(a);
    autocast::Disable off;
    return sum(fa, dims, keepdim);
  }
  Backend& be = compute_backend("sum", {&a});
  Plan p = plan_reduction(a, dims, "sum");
  Tensor out = empty(p.out_shape, like(a));
  be.reduce_sum(elem_of(a), p.block.raw_data(), p.outer, p.r, p.inner, out.raw_data());
  out = finish(out, p, keepdim);
  Shape in_shape = a.shape(), keep_shape = p.out_shape;
  return attach(out, "sum", {a}, [in_shape, keep_shape](const Tensor& g, const Needs&) {
    return Grads{g.reshape(keep_shape).expand(in_shape).contiguous()};
  });
}

Tensor mean(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  const Tensor s = sum(a, dims, keepdim);
  const int64_t count = s.numel() == 0 ? 0 : a.numel() / s.numel();
  return div(s, static_cast<double>(count));
}

Tensor var(const Tensor& a, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  if (autocast::enabled() && a.dtype() != DType::f32) {
    const Tensor fa = autocast::to_f32(a);
    autocast::Disable off;
    return var(fa, dims, correction, keepdim);
  }
  Backend& be = compute_backend("var", {&a});
  Plan p = plan_reduction(a, dims, "var");
  Tensor out = empty(p.out_shape, like(a));
  be.reduce_var(elem_of(a), p.block.raw_data(), p.outer, p.r, p.inner, correction, out.raw_data());
  out = finish(out, p, keepdim);
  if (!any_requires_grad({&a})) return out;
  Tensor x = a.detach();
  Shape keep_shape = p.out_shape;
  std::vector<int64_t> dd = dims;
  const double denom = static_cast<double>(p.r - correction);
  return attach(out, "var", {a}, [x, keep_shape, dd, denom](const Tensor& g, const Needs&) {
    // d var / dx = 2 (x - mean) / (N - correction)
    Tensor centred = sub(x, mean(x, dd, true));
    return Grads{mul(mul(centred, g.reshape(keep_shape)), 2.0 / denom)};
  });
}

std::pair<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) {
  Backend& be = compute_backend("max", {&a});
  FT_CHECK(a.numel() > 0, "max: cannot reduce an empty tensor of shape ", shape_str(a.shape()));
  Plan p = plan_reduction(a, {dim}, "max");
  Tensor values = empty(p.out_shape, like(a));
  Tensor idx = empty(p.out_shape, TensorOptions(DType::i64).with_device(a.device()));
  be.reduce_max(elem_of(a), p.block.raw_data(), p.outer, p.r, p.inner, values.raw_data(), idx.data<int64_t>());
  values = finish(values, p, keepdim);
  idx = finish(idx, p, keepdim);
  if (!any_requires_grad({&a})) return {values, idx};
  Tensor saved_idx = idx.detach();
  Shape in_shape = a.shape(), keep_shape = p.out_shape;
  const int64_t d = wrap_dim(dim, a.dim(), "max");
  values = attach(values, "max", {a}, [=](const Tensor& g, const Needs&) {
    // Scatter g to the arg-max positions: [outer, r, inner] with the reduced dim in the middle.
    int64_t outer = 1, inner = 1;
    for (int64_t k = 0; k < static_cast<int64_t>(in_shape.size()); ++k)
      if (k < d) outer *= in_shape[k];
      else if (k > d) inner *= in_shape[k];
    Tensor dx = zeros(in_shape, like(g));
    Tensor gc = g.reshape(keep_shape).contiguous();
    Tensor ic = saved_idx.reshape(keep_shape).contiguous();
    backend_of("max_backward", {&g}).scatter_max_grad(elem_of(g), gc.raw_data(), ic.data<int64_t>(), outer,
                                                      in_shape.empty() ? 1 : in_shape[d], inner, dx.raw_data());
    return Grads{dx};
  });
  return {values, idx};
}

Tensor max(const Tensor& a) { return max(a.reshape({-1}), 0, false).first; }

Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) {
  NoGradGuard ng;
  return max(a, dim, keepdim).second;
}

}  // namespace ft
