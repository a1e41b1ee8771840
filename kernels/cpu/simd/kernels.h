// The vectorised f32 kernels of the CPU backend, one table per ISA (isa.h). The scalar table is
// the reference: elementwise kernels of every table give its exact bits (tests/core/test_simd.cpp
// checks each ISA this CPU has against it, and against f64). Inputs and outputs are contiguous.
#pragma once
#include <cstdint>

#include "kernels/common/ops.h"
#include "kernels/cpu/simd/isa.h"

namespace ft::kern::simd {

// Arguments of the fused attention kernels (kernels/cpu/attention.h gives the math). q is
// [batch, heads, tq, d], k and v [batch, heads, tk, d], out/dout [batch, heads, tq, d], each
// addressed through its own strides (elements) for batch, head and row, with unit stride along d:
// BERT's views of [batch, seq, heads, d] projections are read in place. The additive mask is
// broadcast as `mask_stride` gives (batch, head, query, key; 0 where broadcast). Dropout on the
// probabilities keeps element (b, h, i, j) when Philox value offset + ((b*heads + h)*tq + i)*tk + j
// is kept by dropout_mask: the mask the composite draws.
struct AttentionArgs {
  int64_t batch = 0, heads = 0, tq = 0, tk = 0, d = 0;
  float scale = 1;
  const float *q = nullptr, *k = nullptr, *v = nullptr, *mask = nullptr;
  int64_t q_stride[3] = {}, k_stride[3] = {}, v_stride[3] = {}, o_stride[3] = {}, mask_stride[4] = {};
  float dropout_p = 0;  // 0: no dropout
  uint64_t seed = 0, offset = 0;
  float* out = nullptr;  // [batch, heads, tq, d] through o_stride
  float* lse = nullptr;  // [batch * heads * tq], log-sum-exp of each row of scores (before dropout)
  // Backward: dout through o_stride; dq, dk, dv (any may be null) through q/k/v strides.
  const float* dout = nullptr;
  float *dq = nullptr, *dk = nullptr, *dv = nullptr;
};

struct Kernels {
  Isa isa;
  // exp, tanh, sigmoid, gelu_erf, gelu_tanh; false for other ops (the caller uses its generic loop).
  bool (*unary)(UnaryOp op, const float* x, int64_t n, float* out);
  // dx = g * gelu'(x + bias[col]) over [rows, n] (bias may be null), exact (erf) or tanh GELU.
  void (*gelu_grad)(bool exact, const float* g, const float* x, const float* bias, int64_t rows, int64_t n,
                    float* dx);
  // y = gelu(x + bias[col]) over [rows, n]; bias may be null.
  void (*bias_gelu)(bool exact, const float* x, const float* bias, int64_t rows, int64_t n, float* y);
  // Row softmax over [rows, n].
  void (*softmax)(const float* x, int64_t rows, int64_t n, float* y);
  // keep[i] = uniform(Philox value offset + i) > p, as kern::dropout_mask.
  void (*dropout_mask)(uint64_t seed, uint64_t offset, float p, int64_t n, uint8_t* keep);
  // Sum of squares in f64 of f32 partial sums over 16 fixed lanes: the same bits on every ISA.
  double (*sum_squares)(const float* x, int64_t n);
  void (*attention_fwd)(const AttentionArgs& a);
  void (*attention_bwd)(const AttentionArgs& a);
};

const Kernels& kernels_for(Isa isa);
inline const Kernels& kernels() { return kernels_for(active_isa()); }

// The smallest uint32 Philox value whose uniform_from_u32 exceeds p (dropout keeps value x iff
// x >= threshold), as a 64-bit number: 2^32 when none does.
uint64_t keep_threshold(float p);

}  // namespace ft::kern::simd
