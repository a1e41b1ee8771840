#include "kernels/cpu/unfold.h"

#include <algorithm>

namespace ft::kern {

template <class T>
void im2col(const T* x, const UnfoldGeom& g, T pad, T* cols) {
  const int64_t planes = g.n * g.c, kk = g.kh * g.kw, P = g.positions();
#pragma omp parallel for if (g.cols_numel() > kParallelGrain)
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* src = x + plane * g.h * g.w;
    for (int64_t r = 0; r < kk; ++r) {
      const int64_t i = r / g.kw, j = r % g.kw;
      T* dst = cols + (plane * kk + r) * P;  // rows of a plane are consecutive: (b, ci) then (i, j)
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t sy = oy * g.sh - g.ph + i * g.dh;
        T* out = dst + oy * g.ow;
        if (sy < 0 || sy >= g.h) {
          std::fill(out, out + g.ow, pad);
          continue;
        }
        const T* row = src + sy * g.w;
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t sx = ox * g.sw - g.pw + j * g.dw;
          out[ox] = (sx >= 0 && sx < g.w) ? row[sx] : pad;
        }
      }
    }
  }
}

template <class T>
void col2im(const T* cols, const UnfoldGeom& g, T* dx) {
  const int64_t planes = g.n * g.c, kk = g.kh * g.kw, P = g.positions();
#pragma omp parallel for if (g.cols_numel() > kParallelGrain)
  for (int64_t plane = 0; plane < planes; ++plane) {
    T* dst = dx + plane * g.h * g.w;
    std::fill(dst, dst + g.h * g.w, T(0));
    for (int64_t r = 0; r < kk; ++r) {
      const int64_t i = r / g.kw, j = r % g.kw;
      const T* src = cols + (plane * kk + r) * P;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t sy = oy * g.sh - g.ph + i * g.dh;
        if (sy < 0 || sy >= g.h) continue;
        T* row = dst + sy * g.w;
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t sx = ox * g.sw - g.pw + j * g.dw;
          if (sx >= 0 && sx < g.w) row[sx] += src[oy * g.ow + ox];
        }
      }
    }
  }
}

#define FT_INSTANTIATE(T)                                                  \
  template void im2col<T>(const T*, const UnfoldGeom&, T, T*);              \
  template void col2im<T>(const T*, const UnfoldGeom&, T*);
FT_INSTANTIATE(float)
FT_INSTANTIATE(double)
#undef FT_INSTANTIATE

}  // namespace ft::kern
