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
  if (it != copies_.end() && it->second.copy.dtype() == low) return it->second.copy;
  Tensor copy = param.to(low);
  copies_[param.impl()] = Entry{param, copy};
  return copy;
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
