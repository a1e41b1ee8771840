// The vectorised f32 kernels of the CPU backend, one table per ISA (isa.h). The scalar table is
// the reference: elementwise kernels of every table give its exact bits (tests/core/test_simd.cpp
// checks each ISA this CPU has against it, and against f64). Inputs and outputs are contiguous.
#pragma once
#include <cstdint>

#include "kernels/common/attention.h"
#include "kernels/common/ops.h"
#include "kernels/cpu/simd/isa.h"

namespace ft::kern::simd {

// AdamW's per-step scalars, rounded to f32 once (kernels/cpu/optim.cpp computes them as torch does).
struct AdamWScalars {
  float decay, w1, b2, w2, step_size, bc2_sqrt, eps;
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
  // Fused attention in f32 (kernels/common/attention.h), tiled per (batch, head): K (and V) packed
  // transposed once, score rows vectorised along keys, outputs along d.
  void (*attention_fwd)(const AttentionArgs& a);
  void (*attention_bwd)(const AttentionArgs& a);
  // One AdamW update of n f32 parameters in place (the loop of kernels/cpu/optim.cpp, vectorised).
  void (*adamw)(float* p, const float* g, float* m, float* v, int64_t n, const AdamWScalars& s);
  // Contiguous f32 <-> bf16 with kernels/common/half.h's bits, on the calling thread.
  void (*f32_to_bf16)(const float* x, int64_t n, uint16_t* y);
  void (*bf16_to_f32)(const uint16_t* x, int64_t n, float* y);
};

const Kernels& kernels_for(Isa isa);
inline const Kernels& kernels() { return kernels_for(active_isa()); }

// The smallest uint32 Philox value whose uniform_from_u32 exceeds p (dropout keeps value x iff
// x >= threshold), as a 64-bit number: 2^32 when none does.
uint64_t keep_threshold(float p);

}  // namespace ft::kern::simd
