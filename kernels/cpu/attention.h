// Fused scaled-dot-product attention on the CPU, the plain reference (kernels/common/attention.h
// gives the arguments): f64 (the op table's oracle) and f32 through these loops; the f32 fast path
// is the tiled, vectorised kernel of kernels/cpu/simd. Per (batch, head, query) row the scores are
// computed once into a row buffer, so no [tq, tk] matrix is stored; the backward recomputes them
// from the saved log-sum-exp (dq row by row, dk and dv summed over rows in order: deterministic).
#pragma once
#include "kernels/common/attention.h"

namespace ft::kern {

template <class T>
void attention_fwd(const AttentionArgs& a);
template <class T>
void attention_bwd(const AttentionArgs& a);

}  // namespace ft::kern
