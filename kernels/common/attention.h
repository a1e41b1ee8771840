// The arguments of the fused attention op, declared once for every backend and kernel:
// out = dropout(softmax(q k^T * scale + mask)) v per (batch, head), with the log-sum-exp of each
// score row saved for the backward, which recomputes the probabilities (no score matrix is stored).
#pragma once
#include <cstdint>

#include "kernels/common/strided.h"

namespace ft::kern {

// Element strides of a [batch, heads, rows, d] operand whose d axis is contiguous: BERT's q, k, v
// are views of [batch, seq, heads, d] projections and are read in place.
struct AttnStrides {
  int64_t batch = 0, head = 0, row = 0;
  FT_HD int64_t at(int64_t b, int64_t h, int64_t i) const { return b * batch + h * head + i * row; }
};

struct AttentionArgs {
  Elem dtype = Elem::f32;
  int64_t batch = 0, heads = 0, tq = 0, tk = 0, d = 0;
  double scale = 1;
  const void *q = nullptr, *k = nullptr, *v = nullptr;
  AttnStrides qs, ks, vs;
  // Additive mask, broadcast to [batch, heads, tq, tk] by these strides (0 where broadcast); or null.
  const void* mask = nullptr;
  int64_t mask_stride[4] = {};
  // Dropout on the probabilities: element (b, h, i, j) is kept when Philox value
  // offset + ((b * heads + h) * tq + i) * tk + j of stream `seed` is kept by dropout_mask, the
  // element the composite (dropout of the [b, h, tq, tk] probabilities) draws for it.
  double dropout_p = 0;
  uint64_t seed = 0, offset = 0;
  // Valid lengths per batch element (in the memory of the device that runs the kernel), or null:
  // keys j >= lengths[b] are left out (as a mask of -inf leaves them) and query rows
  // i >= lengths[b] are not computed: their outputs and gradients are zero, their lse 0. Padding
  // after each sequence then costs no work.
  const int64_t* lengths = nullptr;
  void* out = nullptr;  // forward output, [batch, heads, tq, d] through os (the backward may read it)
  AttnStrides os;
  // [batch * heads * tq], written by the forward, read by the backward: f32 for f32, bf16 and f16
  // inputs, f64 for f64. The mask has the same dtype.
  void* lse = nullptr;
  // Backward: dout through dos; dq, dk, dv (each may be null) through their own strides.
  const void* dout = nullptr;
  AttnStrides dos;
  void *dq = nullptr, *dk = nullptr, *dv = nullptr;
  AttnStrides dqs, dks, dvs;
  void* workspace = nullptr;  // Backend::attention_bwd_workspace(args) bytes of device scratch

  FT_HD int64_t mask_at(int64_t b, int64_t h, int64_t i, int64_t j) const {
    return b * mask_stride[0] + h * mask_stride[1] + i * mask_stride[2] + j * mask_stride[3];
  }
  FT_HD int64_t q_len(int64_t b) const { return lengths && lengths[b] < tq ? lengths[b] : tq; }
  FT_HD int64_t k_len(int64_t b) const { return lengths && lengths[b] < tk ? lengths[b] : tk; }
  // The Philox value number of probability (b*heads + h, i, j), before adding offset.
  FT_HD uint64_t dropout_index(int64_t g, int64_t i, int64_t j) const {
    return (static_cast<uint64_t>(g) * tq + i) * tk + j;
  }
};

}  // namespace ft::kern
