// Row-wise softmax family over contiguous [rows, n] data, and cross-entropy fused with its softmax.
#pragma once
#include <cstdint>

namespace ft::kern {

template <class T>
void softmax_fwd(const T* x, int64_t rows, int64_t n, bool log, T* y);
// dx = y * (g - sum(g*y))  (softmax)   |   dx = g - exp(y) * sum(g)  (log_softmax, y = log-probs)
template <class T>
void softmax_bwd(const T* g, const T* y, int64_t rows, int64_t n, bool log, T* dx);

// Cross-entropy over logits [rows, classes] with class targets. Per row: loss (0 for ignored rows)
// and the log-sum-exp the backward needs. Targets must be valid (core checks the range).
template <class T>
void cross_entropy_fwd(const T* logits, const int64_t* target, int64_t rows, int64_t classes,
                       int64_t ignore_index, double smoothing, T* loss, T* lse);
// dlogits = scale * (softmax - (1 - s) * onehot(target) - s / classes), zero rows where ignored.
template <class T>
void cross_entropy_bwd(const T* logits, const int64_t* target, const T* lse, int64_t rows,
                       int64_t classes, int64_t ignore_index, double smoothing, double scale, T* dlogits);

}  // namespace ft::kern
