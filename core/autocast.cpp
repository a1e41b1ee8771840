#include "core/autocast.h"

#include "core/autograd.h"

namespace ft::autocast {
namespace {

thread_local DType t_low = DType::f32;
thread_local WeightCache* t_cache = nullptr;

bool eligible(const Tensor& x) { return x.defined() && is_floating(x.dtype()) && x.dtype() != DType::f64; }

}  // namespace

Tensor WeightCache::get(const Tensor& param, DType low) {
  auto it = copies_.find(param.impl());
  if (it == copies_.end() || it->second.copy.dtype() != low) {
    Tensor copy;
    {
      NoGradGuard ng;
      copy = param.to(low);
    }
    it = copies_.insert_or_assign(param.impl(), Entry{param, copy}).first;
  }
  // Each use gets its own cast node over the one copy, so forward passes that reuse the copy
  // (micro-batches of one step) each run their own backward: the f32 gradient of the low one.
  Tensor use = it->second.copy.detach();
  if (!grad_enabled() || !param.requires_grad()) return use;
  return attach(use, "to_dtype", {param}, [from = param.dtype()](const Tensor& g, const std::vector<bool>&) {
    return std::vector<Tensor>{g.to(from)};
  });
}

Guard::Guard(DType low, WeightCache* cache) : prev_dtype_(t_low), prev_cache_(t_cache) {
  FT_CHECK(low == DType::bf16 || low == DType::f16, "autocast: the low dtype must be bf16 or f16, got ", low);
  t_low = low;
  t_cache = cache ? cache : &own_;
}
Guard::~Guard() {
  t_low = prev_dtype_;
  t_cache = prev_cache_;
}

Disable::Disable() : prev_dtype_(t_low), prev_cache_(t_cache) {
  t_low = DType::f32;
  t_cache = nullptr;
}
Disable::~Disable() {
  t_low = prev_dtype_;
  t_cache = prev_cache_;
}

bool enabled() { return t_low != DType::f32; }
DType low_dtype() { return t_low; }

Tensor to_low(const Tensor& x) {
  if (!enabled() || !eligible(x) || x.dtype() == t_low) return x;
  // A parameter is cast once per cache; with grad mode off (evaluation) it is not a graph leaf of
  // anything, but the copy is as reusable.
  if (x.is_leaf() && x.requires_grad() && t_cache) return t_cache->get(x, t_low);
  return x.to(t_low);
}

Tensor to_f32(const Tensor& x) {
  if (!enabled() || !eligible(x) || x.dtype() == DType::f32) return x;
  return x.to(DType::f32);
}

}  // namespace ft::autocast
