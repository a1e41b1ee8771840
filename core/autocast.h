// Mixed precision as torch.autocast defines it. Inside an autocast::Guard, the ops of one policy
// table (core/autocast.cpp, and the README's "Mixed precision" table) pick their compute dtype:
//   low  (matmul, linear, conv2d, scaled_dot_product_attention): eligible inputs cast to bf16/f16;
//        the kernels accumulate in f32 and return the low dtype;
//   f32  (softmax, log_softmax, layer_norm and the fused LayerNorm, losses, sum, mean, var): eligible
//        inputs cast to f32;
//   every other op runs in its inputs' dtype.
// Eligible means floating point and not f64 (f64 is never cast, as in PyTorch). Casts are ordinary
// differentiable ops, so gradients reach f32 parameters in f32. A parameter (a leaf that requires a
// gradient) is cast once per WeightCache, not per use: the Trainer keeps one cache per optimizer
// step, so each weight's low-precision copy is made once per step. The backward runs outside the
// guard: each op's backward uses the dtypes its forward ran in.
#pragma once
#include <unordered_map>

#include "core/tensor.h"

namespace ft::autocast {

// Low-precision copies of parameters, keyed by the parameter; valid until clear() (the values must
// not change meanwhile: the Trainer clears it after every optimizer step, so each weight is cast
// once per step however many micro-batches the step has). Each get() of a parameter that requires
// a gradient returns the copy behind a cast node of its own, whose backward gives the f32 gradient.
class WeightCache {
 public:
  Tensor get(const Tensor& param, DType low);
  void clear() { copies_.clear(); }
  size_t size() const { return copies_.size(); }

 private:
  struct Entry {
    Tensor param, copy;  // param held so that its address is not reused while cached
  };
  std::unordered_map<const void*, Entry> copies_;
};

// Turns autocast on for this thread in the scope, with bf16 or f16 as the low dtype. Without a cache,
// the guard keeps its own for its lifetime.
class Guard {
 public:
  explicit Guard(DType low, WeightCache* cache = nullptr);
  ~Guard();
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;

 private:
  DType prev_dtype_;
  WeightCache* prev_cache_;
  WeightCache own_;
};

// Switches autocast off in the scope (the ops inside run in their inputs' dtypes).
class Disable {
 public:
  Disable();
  ~Disable();
  Disable(const Disable&) = delete;
  Disable& operator=(const Disable&) = delete;

 private:
  DType prev_dtype_;
  WeightCache* prev_cache_;
};

bool enabled();
DType low_dtype();  // the enabled region's bf16/f16; f32 when off

// For the ops of the tables: x cast to the low dtype, or to f32, when autocast is on and x is
// eligible; x itself otherwise (and for undefined tensors).
Tensor to_low(const Tensor& x);
Tensor to_f32(const Tensor& x);

}  // namespace ft::autocast
