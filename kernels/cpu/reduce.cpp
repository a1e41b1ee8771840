#include "kernels/cpu/reduce.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/common/strided.h"

namespace ft::kern {

template <class T>
void reduce_sum(const T* in, int64_t outer, int64_t r, int64_t inner, T* out) {
  const int64_t total = outer * r * inner;
  if (inner == 1) {
#pragma omp parallel for if (total > kParallelGrain)
    for (int64_t o = 0; o < outer; ++o) {
      const T* p = in + o * r;
      double acc = 0;
      for (int64_t k = 0; k < r; ++k) acc += p[k];
      out[o] = static_cast<T>(acc);
    }
    return;
  }
  // Tasks of (outer index, block of 256 columns), so that a column sum over many rows (a bias
  // gradient: outer = 1) runs on every thread; each column still adds its rows in order.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
#pragma omp parallel for if (total > kParallelGrain)
  for (int64_t task = 0; task < outer * blocks; ++task) {
    const int64_t o = task / blocks, i0 = (task % blocks) * kBlock, i1 = std::min(inner, i0 + kBlock);
    double acc[kBlock] = {};
    for (int64_t k = 0; k < r; ++k) {
      const T* p = in + (o * r + k) * inner;
      for (int64_t i = i0; i < i1; ++i) acc[i - i0] += p[i];
    }
    for (int64_t i = i0; i < i1; ++i) out[o * inner + i] = static_cast<T>(acc[i - i0]);
  }
}

template <class T>
void reduce_var(const T* in, int64_t outer, int64_t r, int64_t inner, int64_t correction, T* out) {
  const int64_t total = outer * r * inner;
  const double denom = static_cast<double>(r - correction);
#pragma omp parallel for collapse(2) if (total > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = in + o * r * inner + i;
      double mean = 0;
      for (int64_t k = 0; k < r; ++k) mean += p[k * inner];
      mean /= static_cast<double>(r);
      double ss = 0;
      for (int64_t k = 0; k < r; ++k) {
        double d = p[k * inner] - mean;
        ss += d * d;
      }
      out[o * inner + i] = static_cast<T>(denom > 0 ? ss / denom : NAN);
    }
  }
}

template <class T>
void reduce_max(const T* in, int64_t outer, int64_t r, int64_t inner, T* out, int64_t* idx) {
  const int64_t total = outer * r * inner;
#pragma omp parallel for collapse(2) if (total > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* p = in + o * r * inner + i;
      T best = p[0];
      int64_t at = 0;
      for (int64_t k = 1; k < r && !std::isnan(best); ++k) {
        T v = p[k * inner];
        if (v > best || std::isnan(v)) best = v, at = k;
      }
      out[o * inner + i] = best;
      if (idx) idx[o * inner + i] = at;
    }
  }
}

template <class T>
void scatter_max_grad(const T* g, const int64_t* idx, int64_t outer, int64_t r, int64_t inner, T* dx) {
#pragma omp parallel for collapse(2) if (outer * inner > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      dx[(o * r + idx[o * inner + i]) * inner + i] = g[o * inner + i];
}

#define FT_INSTANTIATE(T)                                                                       \
  template void reduce_sum<T>(const T*, int64_t, int64_t, int64_t, T*);                        \
  template void reduce_var<T>(const T*, int64_t, int64_t, int64_t, int64_t, T*);               \
  template void reduce_max<T>(const T*, int64_t, int64_t, int64_t, T*, int64_t*);              \
  template void scatter_max_grad<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, T*);
FT_INSTANTIATE(float)
FT_INSTANTIATE(double)
#undef FT_INSTANTIATE

}  // namespace ft::kern
