// Optimizer updates on contiguous f32 (or f64) parameters, as torch.optim implements them.
#pragma once
#include <cstdint>

#include "kernels/common/ops.h"

namespace ft::kern {

// torch.optim.AdamW (single-tensor path): p *= 1 - lr*wd; m = lerp(m, g, 1-b1);
// v = b2*v + (1-b2)*g*g; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
template <class T>
void adamw_step(T* p, const T* g, T* m, T* v, int64_t n, const AdamWArgs& a);

// torch.optim.SGD: d = g + wd*p; buf = first ? d : momentum*buf + (1-dampening)*d;
// d = nesterov ? d + momentum*buf : buf; p -= lr*d. buf may be null when momentum == 0.
template <class T>
void sgd_step(T* p, const T* g, T* buf, int64_t n, const SgdArgs& a);

// Sum of squares in double (for global gradient norms), and in-place scaling.
template <class T>
double sum_squares(const T* x, int64_t n);
template <class T>
void scale_inplace(T* x, int64_t n, double s);

}  // namespace ft::kern
