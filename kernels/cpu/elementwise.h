// Elementwise kernels: unary, binary (broadcast through zero strides), where, comparisons, and the
// pointwise pieces of backward formulas. Output is contiguous with the inputs' common shape.
#pragma once
#include <cstdint>

#include "kernels/cpu/strided.h"

namespace ft::kern {

enum class UnaryOp {
  neg, exp, log, sqrt, rsqrt, tanh, sigmoid, relu, gelu_erf, gelu_tanh,
  pow,         // x^a
  clamp,       // min(max(x, a), b)
  add_scalar,  // x + a
  mul_scalar,  // x * a
  div_scalar,  // x / a
  rsub_scalar, // a - x
  rdiv_scalar, // a / x
  gt_scalar,   // x > a   (as 0/1 of T)
  lt_scalar,   // x < a
};

enum class BinaryOp {
  add, sub, mul, div,
  // Backward pieces, (g, x) -> dx:
  relu_grad,       // g * (x > 0)
  gelu_erf_grad,   // g * d/dx gelu_erf(x)
  gelu_tanh_grad,  // g * d/dx gelu_tanh(x)
  tanh_grad,       // (g, y) -> g * (1 - y^2)
  sigmoid_grad,    // (g, y) -> g * y * (1 - y)
  pow_grad,        // g * a * x^(a-1)
  clamp_grad,      // g * (a <= x <= b)
  // Losses, (x, y):
  bce_logits,       // max(x,0) - x*y + log1p(exp(-|x|))
  bce_logits_grad,  // sigmoid(x) - y
  eq,               // x == y as 0/1 of T
};

template <class T>
void unary(UnaryOp op, double a, double b, const T* x, const Strided& xv, T* out);
template <class T>
void binary(BinaryOp op, double a, double b, const T* x, const Strided& xv, const T* y,
            const Strided& yv, T* out);
// out = cond ? x : y; cond holds bytes 0/1.
template <class T>
void where(const uint8_t* cond, const Strided& cv, const T* x, const Strided& xv, const T* y,
           const Strided& yv, T* out);

// Strided copy with element conversion (float <-> bf16/f16 round to nearest even; float -> int
// truncates toward zero; anything -> u8 is x != 0). dst may be strided.
void copy_cast(const void* src, Elem src_type, const Strided& sv, void* dst, Elem dst_type,
               const Strided& dv);
void fill(void* dst, Elem type, const Strided& dv, double value);

}  // namespace ft::kern
