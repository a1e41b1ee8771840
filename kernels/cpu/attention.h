// Fused scaled-dot-product attention on the CPU: out = softmax(q k^T * scale + mask) v for contiguous
// [batch*heads, seq, dim] q, k, v, streaming over the keys with an online softmax, so no score matrix
// is ever stored; the log-sum-exp per query row is saved for the backward, which recomputes the
// probabilities (dq row by row, then dk and dv key by key: deterministic, no atomics).
#pragma once
#include <cstdint>

#include "kernels/common/strided.h"

namespace ft::kern {

// mask: additive, viewed as [batch, heads, tq, tk] (broadcast through zero strides) or null;
// heads splits the leading batch*heads dim for the mask's indexing.
template <class T>
void attention_fwd(const T* q, const T* k, const T* v, const T* mask, const Strided& mask_view, int64_t bh,
                   int64_t heads, int64_t tq, int64_t tk, int64_t d, double scale, T* out, T* lse);
template <class T>
void attention_bwd(const T* q, const T* k, const T* v, const T* mask, const Strided& mask_view, const T* out,
                   const T* dout, const T* lse, int64_t bh, int64_t heads, int64_t tq, int64_t tk, int64_t d,
                   double scale, T* dq, T* dk, T* dv);

}  // namespace ft::kern
