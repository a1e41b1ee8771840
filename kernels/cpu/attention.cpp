#include "kernels/cpu/attention.h"

#include <cmath>
#include <limits>
#include <vector>

namespace ft::kern {
namespace {

template <class T>
T mask_at(const T* mask, const Strided& mv, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (!mask) return T(0);
  return mask[b * mv.stride[0] + h * mv.stride[1] + i * mv.stride[2] + j * mv.stride[3]];
}

template <class T>
T score(const T* qi, const T* kj, int64_t d, T scale) {
  T s = 0;
  for (int64_t c = 0; c < d; ++c) s += qi[c] * kj[c];
  return s * scale;
}

}  // namespace

template <class T>
void attention_fwd(const T* q, const T* k, const T* v, const T* mask, const Strided& mv, int64_t bh, int64_t heads,
                   int64_t tq, int64_t tk, int64_t d, double scale_, T* out, T* lse) {
  const T scale = static_cast<T>(scale_);
#pragma omp parallel for collapse(2) if (bh * tq * tk * d > kParallelGrain)
  for (int64_t g = 0; g < bh; ++g) {
    for (int64_t i = 0; i < tq; ++i) {
      const T* qi = q + (g * tq + i) * d;
      std::vector<T> acc(static_cast<size_t>(d), T(0));
      T m = -std::numeric_limits<T>::infinity(), l = 0;
      for (int64_t j = 0; j < tk; ++j) {
        const T* kj = k + (g * tk + j) * d;
        const T s = score(qi, kj, d, scale) + mask_at(mask, mv, g / heads, g % heads, i, j);
        const T m_new = s > m ? s : m;
        const T correction = std::exp(m - m_new), p = std::exp(s - m_new);
        const T* vj = v + (g * tk + j) * d;
        for (int64_t c = 0; c < d; ++c) acc[c] = acc[c] * correction + p * vj[c];
        l = l * correction + p;
        m = m_new;
      }
      T* o = out + (g * tq + i) * d;
      for (int64_t c = 0; c < d; ++c) o[c] = acc[c] / l;
      lse[g * tq + i] = m + std::log(l);
    }
  }
}

template <class T>
void attention_bwd(const T* q, const T* k, const T* v, const T* mask, const Strided& mv, const T* out, const T* dout,
                   const T* lse, int64_t bh, int64_t heads, int64_t tq, int64_t tk, int64_t d, double scale_, T* dq,
                   T* dk, T* dv) {
  const T scale = static_cast<T>(scale_);
  // delta_i = dout_i . out_i: the row term of the softmax backward.
  std::vector<T> delta(static_cast<size_t>(bh * tq));
  for (int64_t r = 0; r < bh * tq; ++r) {
    T s = 0;
    for (int64_t c = 0; c < d; ++c) s += dout[r * d + c] * out[r * d + c];
    delta[r] = s;
  }
  auto prob = [&](int64_t g, int64_t i, int64_t j) {
    const T s = score(q + (g * tq + i) * d, k + (g * tk + j) * d, d, scale) + mask_at(mask, mv, g / heads, g % heads, i, j);
    return std::exp(s - lse[g * tq + i]);
  };
  auto dprob = [&](int64_t g, int64_t i, int64_t j) {  // dout_i . v_j
    T s = 0;
    for (int64_t c = 0; c < d; ++c) s += dout[(g * tq + i) * d + c] * v[(g * tk + j) * d + c];
    return s;
  };
  if (dq) {
#pragma omp parallel for collapse(2) if (bh * tq * tk * d > kParallelGrain)
    for (int64_t g = 0; g < bh; ++g)
      for (int64_t i = 0; i < tq; ++i) {
        T* o = dq + (g * tq + i) * d;
        for (int64_t c = 0; c < d; ++c) o[c] = 0;
        for (int64_t j = 0; j < tk; ++j) {
          const T ds = prob(g, i, j) * (dprob(g, i, j) - delta[g * tq + i]) * scale;
          for (int64_t c = 0; c < d; ++c) o[c] += ds * k[(g * tk + j) * d + c];
        }
      }
  }
  if (dk || dv) {
#pragma omp parallel for collapse(2) if (bh * tq * tk * d > kParallelGrain)
    for (int64_t g = 0; g < bh; ++g)
      for (int64_t j = 0; j < tk; ++j) {
        T* ok = dk ? dk + (g * tk + j) * d : nullptr;
        T* ov = dv ? dv + (g * tk + j) * d : nullptr;
        for (int64_t c = 0; c < d; ++c) {
          if (ok) ok[c] = 0;
          if (ov) ov[c] = 0;
        }
        for (int64_t i = 0; i < tq; ++i) {
          const T p = prob(g, i, j);
          if (ov)
            for (int64_t c = 0; c < d; ++c) ov[c] += p * dout[(g * tq + i) * d + c];
          if (ok) {
            const T ds = p * (dprob(g, i, j) - delta[g * tq + i]) * scale;
            for (int64_t c = 0; c < d; ++c) ok[c] += ds * q[(g * tq + i) * d + c];
          }
        }
      }
  }
}

#define FT_INSTANTIATE(T)                                                                                        \
  template void attention_fwd<T>(const T*, const T*, const T*, const T*, const Strided&, int64_t, int64_t, int64_t, \
                                 int64_t, int64_t, double, T*, T*);                                              \
  template void attention_bwd<T>(const T*, const T*, const T*, const T*, const Strided&, const T*, const T*,      \
                                 const T*, int64_t, int64_t, int64_t, int64_t, int64_t, double, T*, T*, T*);
FT_INSTANTIATE(float)
FT_INSTANTIATE(double)
#undef FT_INSTANTIATE

}  // namespace ft::kern
