#include "kernels/cpu/pool.h"

#include <cmath>
#include <limits>

namespace ft::kern {

template <class T>
void max_pool2d_fwd(const UnfoldGeom& g, const T* x, T* y, int64_t* idx) {
  const int64_t planes = g.n * g.c, in = g.h * g.w, out = g.oh * g.ow;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x + pl * in;
    for (int64_t oy = 0; oy < g.oh; ++oy)
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t at = -2;  // not yet set: the first window position is taken whatever it holds
        for (int64_t i = 0; i < g.kh && !std::isnan(best); ++i) {
          const int64_t yy = oy * g.sh - g.ph + i * g.dh;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t xx = ox * g.sw - g.pw + j * g.dw;
            const bool inside = yy >= 0 && yy < g.h && xx >= 0 && xx < g.w;
            const T v = inside ? xp[yy * g.w + xx] : -std::numeric_limits<T>::infinity();
            if (at == -2 || v > best || std::isnan(v)) {
              best = v, at = inside ? yy * g.w + xx : -1;
              if (std::isnan(v)) break;
            }
          }
        }
        y[pl * out + oy * g.ow + ox] = best;
        idx[pl * out + oy * g.ow + ox] = at;
      }
  }
}

template <class T>
void max_pool2d_bwd(const UnfoldGeom& g, const T* dy, const int64_t* idx, T* dx) {
  const int64_t planes = g.n * g.c, in = g.h * g.w, out = g.oh * g.ow;
#pragma omp parallel for schedule(static)
  for (int64_t pl = 0; pl < planes; ++pl) {
    T* d = dx + pl * in;
    for (int64_t i = 0; i < in; ++i) d[i] = T(0);
    for (int64_t o = 0; o < out; ++o)
      if (idx[pl * out + o] >= 0) d[idx[pl * out + o]] += dy[pl * out + o];
  }
}

template void max_pool2d_fwd<float>(const UnfoldGeom&, const float*, float*, int64_t*);
template void max_pool2d_fwd<double>(const UnfoldGeom&, const double*, double*, int64_t*);
template void max_pool2d_bwd<float>(const UnfoldGeom&, const float*, const int64_t*, float*);
template void max_pool2d_bwd<double>(const UnfoldGeom&, const double*, const int64_t*, double*);

}  // namespace ft::kern
