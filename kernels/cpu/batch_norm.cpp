#include "kernels/cpu/batch_norm.h"

#include <cmath>

namespace ft::kern {

template <class T>
void batch_norm_fwd_train(const BatchNormArgs& a) {
  const int64_t n = a.n, c = a.c, hw = a.hw;
  const double count = static_cast<double>(n * hw);
  const T* x = static_cast<const T*>(a.x);
  const T *scale = static_cast<const T*>(a.scale), *bias = static_cast<const T*>(a.bias);
  T* y = static_cast<T*>(a.y);
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) {
    double s = 0;
    for (int64_t b = 0; b < n; ++b) {
      const T* p = x + (b * c + ch) * hw;
      for (int64_t i = 0; i < hw; ++i) s += p[i];
    }
    const double mean = s / count;
    double ss = 0;
    for (int64_t b = 0; b < n; ++b) {
      const T* p = x + (b * c + ch) * hw;
      for (int64_t i = 0; i < hw; ++i) ss += (p[i] - mean) * (p[i] - mean);
    }
    const double var = ss / count, invstd = 1 / std::sqrt(var + a.eps);
    const T k = static_cast<T>(invstd * scale[ch]), off = static_cast<T>(bias[ch] - mean * invstd * scale[ch]);
    for (int64_t b = 0; b < n; ++b) {
      const T* p = x + (b * c + ch) * hw;
      T* q = y + (b * c + ch) * hw;
      for (int64_t i = 0; i < hw; ++i) q[i] = p[i] * k + off;
    }
    static_cast<T*>(a.save_mean)[ch] = static_cast<T>(mean);
    static_cast<T*>(a.save_spread)[ch] = static_cast<T>(invstd);
    // Running statistics as torch moves them, with the unbiased variance.
    if (a.running_mean) {
      T& rm = static_cast<T*>(a.running_mean)[ch];
      rm = static_cast<T>((1 - a.momentum) * rm + a.momentum * mean);
    }
    if (a.running_var) {
      T& rv = static_cast<T*>(a.running_var)[ch];
      rv = static_cast<T>((1 - a.momentum) * rv + a.momentum * var * count / (count - 1));
    }
  }
}

template <class T>
void batch_norm_bwd(const BatchNormArgs& a) {
  const int64_t n = a.n, c = a.c, hw = a.hw;
  const double count = static_cast<double>(n * hw);
  const T *x = static_cast<const T*>(a.x), *dy = static_cast<const T*>(a.dy);
  const T* scale = static_cast<const T*>(a.scale);
#pragma omp parallel for schedule(static)
  for (int64_t ch = 0; ch < c; ++ch) {
    const double mean = static_cast<const T*>(a.save_mean)[ch], invstd = static_cast<const T*>(a.save_spread)[ch];
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t b = 0; b < n; ++b) {
      const T *p = x + (b * c + ch) * hw, *g = dy + (b * c + ch) * hw;
      for (int64_t i = 0; i < hw; ++i) {
        sum_dy += g[i];
        sum_dy_xhat += g[i] * ((p[i] - mean) * invstd);
      }
    }
    if (a.dbias) static_cast<T*>(a.dbias)[ch] = static_cast<T>(sum_dy);
    if (a.dscale) static_cast<T*>(a.dscale)[ch] = static_cast<T>(sum_dy_xhat);
    if (!a.dx) continue;
    // dx = scale * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
    const double k = scale[ch] * invstd, m_dy = sum_dy / count, m_dyx = sum_dy_xhat / count;
    for (int64_t b = 0; b < n; ++b) {
      const T *p = x + (b * c + ch) * hw, *g = dy + (b * c + ch) * hw;
      T* d = static_cast<T*>(a.dx) + (b * c + ch) * hw;
      for (int64_t i = 0; i < hw; ++i)
        d[i] = static_cast<T>(k * (g[i] - m_dy - (p[i] - mean) * invstd * m_dyx));
    }
  }
}

template void batch_norm_fwd_train<float>(const BatchNormArgs&);
template void batch_norm_fwd_train<double>(const BatchNormArgs&);
template void batch_norm_bwd<float>(const BatchNormArgs&);
template void batch_norm_bwd<double>(const BatchNormArgs&);

}  // namespace ft::kern
