// Reductions over the middle axis of a contiguous [outer, r, inner] block: out[o, i] = op over k of
// in[o, k, i]. Core permutes and copies other layouts into this form. Sums accumulate in double in
// a fixed order, so results do not depend on the thread count.
#pragma once
#include <cstdint>

namespace ft::kern {

template <class T>
void reduce_sum(const T* in, int64_t outer, int64_t r, int64_t inner, T* out);
// Variance with the given correction (1 = unbiased); NaN where r - correction <= 0.
template <class T>
void reduce_var(const T* in, int64_t outer, int64_t r, int64_t inner, int64_t correction, T* out);
// Maximum and the index of its first occurrence (NaN counts as the maximum, as in torch.max).
template <class T>
void reduce_max(const T* in, int64_t outer, int64_t r, int64_t inner, T* out, int64_t* idx);
// Backward of max along the axis: dx[o, idx[o,i], i] = g[o, i]; dx must be zeroed.
template <class T>
void scatter_max_grad(const T* g, const int64_t* idx, int64_t outer, int64_t r, int64_t inner, T* dx);

}  // namespace ft::kern
