#include "kernels/cpu/optim.h"

#include <cmath>
#include <type_traits>

#include "kernels/common/strided.h"
#include "kernels/cpu/simd/kernels.h"

namespace ft::kern {

template <class T>
void adamw_step(T* p, const T* g, T* m, T* v, int64_t n, const AdamWArgs& a) {
  // Scalars computed in double as Python does, then rounded to T once, as torch passes them.
  const T decay = static_cast<T>(1.0 - a.lr * a.weight_decay);
  const T w1 = static_cast<T>(1.0 - a.beta1);
  const T b2 = static_cast<T>(a.beta2), w2 = static_cast<T>(1.0 - a.beta2);
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(a.step));
  const T step_size = static_cast<T>(a.lr / bc1);
  const T bc2_sqrt = static_cast<T>(std::sqrt(bc2));
  const T eps = static_cast<T>(a.eps);
  // f32: the vectorised loop (GCC leaves this one scalar: std::sqrt keeps an errno branch).
  if constexpr (std::is_same_v<T, float>)
    return simd::kernels().adamw(p, g, m, v, n, simd::AdamWScalars{decay, w1, b2, w2, step_size, bc2_sqrt, eps});
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    T pi = p[i] * decay;
    const T gi = g[i];
    const T mi = std::fma(w1, gi - m[i], m[i]);
    const T vi = std::fma(w2 * gi, gi, v[i] * b2);
    m[i] = mi;
    v[i] = vi;
    const T denom = std::sqrt(vi) / bc2_sqrt + eps;
    p[i] = std::fma(-step_size, mi / denom, pi);
  }
}

template <class T>
void sgd_step(T* p, const T* g, T* buf, int64_t n, const SgdArgs& a) {
  const T lr = static_cast<T>(a.lr), mom = static_cast<T>(a.momentum);
  const T damp = static_cast<T>(1.0 - a.dampening), wd = static_cast<T>(a.weight_decay);
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (a.weight_decay != 0) d += wd * p[i];
    if (a.momentum != 0) {
      const T b = a.first_step ? d : mom * buf[i] + damp * d;
      buf[i] = b;
      d = a.nesterov ? d + mom * b : b;
    }
    p[i] -= lr * d;
  }
}

template <class T>
double sum_squares(const T* x, int64_t n) {
  if constexpr (std::is_same_v<T, float>) return simd::kernels().sum_squares(x, n);
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]) * x[i];
  return acc;
}

template <class T>
void scale_inplace(T* x, int64_t n, double s) {
  const T f = static_cast<T>(s);
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) x[i] *= f;
}

#define FT_INSTANTIATE(T)                                                    \
  template void adamw_step<T>(T*, const T*, T*, T*, int64_t, const AdamWArgs&); \
  template void sgd_step<T>(T*, const T*, T*, int64_t, const SgdArgs&);        \
  template double sum_squares<T>(const T*, int64_t);                          \
  template void scale_inplace<T>(T*, int64_t, double);
FT_INSTANTIATE(float)
FT_INSTANTIATE(double)
#undef FT_INSTANTIATE

}  // namespace ft::kern
