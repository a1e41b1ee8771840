// LayerNorm over the last dim of contiguous [rows, n] data. Statistics (mean, rstd) are kept in S
// (f32 for f32 data) because the backward reuses them.
#pragma once
#include <cstdint>

#include "kernels/common/ops.h"

namespace ft::kern {

// weight and bias may be null (no affine). With a residual, normalises s = x + residual and writes s
// to sum_out (the fused residual-add + LayerNorm; the backward needs s).
template <class T>
void layer_norm_fwd(const T* x, const T* weight, const T* bias, int64_t rows, int64_t n, double eps,
                    T* y, T* mean, T* rstd, const T* residual = nullptr, T* sum_out = nullptr);
// layer_norm(dropout(x + x_bias) + residual) (kernels/common/ops.h, BiasDropoutLayerNormArgs): the
// mask of row r is Philox values offset + r * n ..., as dropout of the [rows, n] tensor draws them.
template <class T>
void bias_dropout_layer_norm_fwd(const BiasDropoutLayerNormArgs& a);
// dx (may be null), dweight and dbias (may be null; overwritten, not accumulated). The parameter
// gradients sum over rows in row order per column: deterministic for any thread count.
template <class T>
void layer_norm_bwd(const T* g, const T* x, const T* mean, const T* rstd, const T* weight,
                    int64_t rows, int64_t n, T* dx, T* dweight, T* dbias);

}  // namespace ft::kern
