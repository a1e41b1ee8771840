// The pointwise math of every elementwise op, written once for the CPU kernels and the CUDA kernels
// (nvcc and the SIMT emulator): unary_fn<Op>(x, a, b) and binary_fn<Op>(x, y, a, b) for T = float
// or double. Optimizer argument structs live here too.
#pragma once
#include <math.h>

#include <cstdint>

#include "kernels/common/strided.h"

namespace ft::kern {

enum class UnaryOp {
  neg, exp, log, sqrt, rsqrt, tanh, sigmoid, relu, gelu_erf, gelu_tanh,
  pow,         // x^a
  clamp,       // min(max(x, a), b); NaN propagates
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

// Overloads that resolve to the float or double function on the host and on the device alike.
FT_HD float m_exp(float x) { return ::expf(x); }
FT_HD double m_exp(double x) { return ::exp(x); }
FT_HD float m_log(float x) { return ::logf(x); }
FT_HD double m_log(double x) { return ::log(x); }
FT_HD float m_log1p(float x) { return ::log1pf(x); }
FT_HD double m_log1p(double x) { return ::log1p(x); }
FT_HD float m_sqrt(float x) { return ::sqrtf(x); }
FT_HD double m_sqrt(double x) { return ::sqrt(x); }
FT_HD float m_tanh(float x) { return ::tanhf(x); }
FT_HD double m_tanh(double x) { return ::tanh(x); }
FT_HD float m_erf(float x) { return ::erff(x); }
FT_HD double m_erf(double x) { return ::erf(x); }
FT_HD float m_pow(float x, float y) { return ::powf(x, y); }
FT_HD double m_pow(double x, double y) { return ::pow(x, y); }
FT_HD float m_abs(float x) { return ::fabsf(x); }
FT_HD double m_abs(double x) { return ::fabs(x); }
template <class T>
FT_HD bool m_isnan(T x) {
  return x != x;
}

constexpr double kGeluK = 0.7978845608028654;  // sqrt(2/pi)
constexpr double kGeluC = 0.044715;
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.3989422804014327;

template <class T>
FT_HD T gelu_erf(T x) {
  return T(0.5) * x * (T(1) + m_erf(x * T(kInvSqrt2)));
}
template <class T>
FT_HD T gelu_erf_d(T x) {
  return T(0.5) * (T(1) + m_erf(x * T(kInvSqrt2))) + x * m_exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
}
template <class T>
FT_HD T gelu_tanh(T x) {
  return T(0.5) * x * (T(1) + m_tanh(T(kGeluK) * (x + T(kGeluC) * x * x * x)));
}
template <class T>
FT_HD T gelu_tanh_d(T x) {
  const T t = m_tanh(T(kGeluK) * (x + T(kGeluC) * x * x * x));
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * T(kGeluK) * (T(1) + T(3 * kGeluC) * x * x);
}

template <UnaryOp Op, class T>
FT_HD T unary_fn(T v, T a, T b) {
  if constexpr (Op == UnaryOp::neg) return -v;
  else if constexpr (Op == UnaryOp::exp) return m_exp(v);
  else if constexpr (Op == UnaryOp::log) return m_log(v);
  else if constexpr (Op == UnaryOp::sqrt) return m_sqrt(v);
  else if constexpr (Op == UnaryOp::rsqrt) return T(1) / m_sqrt(v);
  else if constexpr (Op == UnaryOp::tanh) return m_tanh(v);
  else if constexpr (Op == UnaryOp::sigmoid) return T(1) / (T(1) + m_exp(-v));
  else if constexpr (Op == UnaryOp::relu) return v > T(0) ? v : T(0);
  else if constexpr (Op == UnaryOp::gelu_erf) return gelu_erf(v);
  else if constexpr (Op == UnaryOp::gelu_tanh) return gelu_tanh(v);
  else if constexpr (Op == UnaryOp::pow) return a == T(2) ? v * v : m_pow(v, a);
  else if constexpr (Op == UnaryOp::clamp) return m_isnan(v) ? v : (v < a ? a : (v > b ? b : v));
  else if constexpr (Op == UnaryOp::add_scalar) return v + a;
  else if constexpr (Op == UnaryOp::mul_scalar) return v * a;
  else if constexpr (Op == UnaryOp::div_scalar) return v / a;
  else if constexpr (Op == UnaryOp::rsub_scalar) return a - v;
  else if constexpr (Op == UnaryOp::rdiv_scalar) return a / v;
  else if constexpr (Op == UnaryOp::gt_scalar) return T(v > a);
  else return T(v < a);  // lt_scalar
}

template <BinaryOp Op, class T>
FT_HD T binary_fn(T p, T q, T a, T b) {
  if constexpr (Op == BinaryOp::add) return p + q;
  else if constexpr (Op == BinaryOp::sub) return p - q;
  else if constexpr (Op == BinaryOp::mul) return p * q;
  else if constexpr (Op == BinaryOp::div) return p / q;
  else if constexpr (Op == BinaryOp::relu_grad) return q > T(0) ? p : T(0);
  else if constexpr (Op == BinaryOp::gelu_erf_grad) return p * gelu_erf_d(q);
  else if constexpr (Op == BinaryOp::gelu_tanh_grad) return p * gelu_tanh_d(q);
  else if constexpr (Op == BinaryOp::tanh_grad) return p * (T(1) - q * q);
  else if constexpr (Op == BinaryOp::sigmoid_grad) return p * q * (T(1) - q);
  else if constexpr (Op == BinaryOp::pow_grad) return p * a * m_pow(q, a - T(1));
  else if constexpr (Op == BinaryOp::clamp_grad) return (q >= a && q <= b) ? p : T(0);
  else if constexpr (Op == BinaryOp::bce_logits)
    return (p > T(0) ? p : T(0)) - p * q + m_log1p(m_exp(-m_abs(p)));
  else if constexpr (Op == BinaryOp::bce_logits_grad) return T(1) / (T(1) + m_exp(-p)) - q;
  else return T(p == q);  // eq
}

// X-macros over the ops, for the switch that maps a runtime op to its instantiated kernel.
#define FT_UNARY_OPS(X)                                                                                  \
  X(neg) X(exp) X(log) X(sqrt) X(rsqrt) X(tanh) X(sigmoid) X(relu) X(gelu_erf) X(gelu_tanh) X(pow) X(clamp) \
  X(add_scalar) X(mul_scalar) X(div_scalar) X(rsub_scalar) X(rdiv_scalar) X(gt_scalar) X(lt_scalar)
#define FT_BINARY_OPS(X)                                                                                  \
  X(add) X(sub) X(mul) X(div) X(relu_grad) X(gelu_erf_grad) X(gelu_tanh_grad) X(tanh_grad) X(sigmoid_grad) \
  X(pow_grad) X(clamp_grad) X(bce_logits) X(bce_logits_grad) X(eq)

// Ops a backend may implement (Backend::implementation names how); for the others the op runs its
// composite definition.
enum class OptionalOp { attention, bias_gelu, bias_dropout_add_layer_norm, conv2d, batch_norm, max_pool2d, linear_bias,
                        linear_bias_gelu };

// Dropout of one op: element i of the op's tensor keeps when Philox value offset + i of `seed` is
// kept (uniform > p); kept elements are scaled by 1 / (1 - p). p = 0: no dropout.
struct DropoutArgs {
  double p = 0;
  uint64_t seed = 0, offset = 0;
};

// layer_norm(dropout(x + x_bias) + residual) over contiguous [rows, n]: the tail of each BERT
// sublayer (dense output, its bias, hidden dropout, residual, LayerNorm) in one pass. x_bias,
// residual, weight and bias may be null; keep (rows * n bytes) receives the dropout mask when
// drop.p > 0; sum_out receives the normalised input, which the backward needs.
struct BiasDropoutLayerNormArgs {
  int64_t rows = 0, n = 0;
  double eps = 1e-5;
  const void *x = nullptr, *x_bias = nullptr, *residual = nullptr, *weight = nullptr, *bias = nullptr;
  DropoutArgs drop;
  uint8_t* keep = nullptr;
  void *sum_out = nullptr, *y = nullptr, *mean = nullptr, *rstd = nullptr;
};

struct AdamWArgs {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t step;  // 1-based, after increment
};

// One parameter of a multi-tensor AdamW update: its buffers and its group's settings.
struct AdamWTensor {
  void* p;
  const void* g;
  void* m;
  void* v;
  void* copy_bf16;  // optional: receives p rounded to bf16 after the update
  int64_t n;
  double lr, weight_decay;
  int64_t step;  // this parameter's step count, after increment
};

struct SgdArgs {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

// One tensor of a multi-tensor pass (gradient clipping, the loss scaler): contiguous data, n elements.
struct TensorRef {
  void* p;
  int64_t n;
};

// What an index check reports: the op, whether a value is exempt (cross_entropy's ignore_index),
// and the wording ("index ... out of range for size L", or "target ... for L classes").
struct IndexCheck {
  const char* op = "";
  bool has_skip = false;
  int64_t skip = 0;
  bool classes = false;
};

}  // namespace ft::kern
