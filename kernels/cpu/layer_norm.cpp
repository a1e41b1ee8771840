#include "kernels/cpu/layer_norm.h"

#include <algorithm>
#include <cmath>

#include "kernels/common/strided.h"
#include "kernels/cpu/indexing.h"

namespace ft::kern {

namespace {

// Normalises one row xr into yr and returns (mean, rstd). Two passes (mean, then centred squares):
// as accurate as Welford and simpler to vectorise.
template <class T>
void normalize_row(const T* xr, const T* weight, const T* bias, int64_t n, double eps, T* yr, T* mean, T* rstd) {
  T mu = 0;
  for (int64_t i = 0; i < n; ++i) mu += xr[i];
  mu /= static_cast<T>(n);
  T var = 0;
  for (int64_t i = 0; i < n; ++i) {
    T d = xr[i] - mu;
    var += d * d;
  }
  var /= static_cast<T>(n);
  const T rs = T(1) / std::sqrt(var + static_cast<T>(eps));
  *mean = mu;
  *rstd = rs;
  for (int64_t i = 0; i < n; ++i) {
    T v = (xr[i] - mu) * rs;
    if (weight) v *= weight[i];
    if (bias) v += bias[i];
    yr[i] = v;
  }
}

}  // namespace

template <class T>
void layer_norm_fwd(const T* x, const T* weight, const T* bias, int64_t rows, int64_t n, double eps,
                    T* y, T* mean, T* rstd, const T* residual, T* sum_out) {
#pragma omp parallel for if (rows * n > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    if (residual) {
      T* sr = sum_out + r * n;
      for (int64_t i = 0; i < n; ++i) sr[i] = xr[i] + residual[r * n + i];
      xr = sr;
    }
    normalize_row(xr, weight, bias, n, eps, y + r * n, mean + r, rstd + r);
  }
}

template <class T>
void bias_dropout_layer_norm_fwd(const BiasDropoutLayerNormArgs& a) {
  const int64_t n = a.n;
  const T *x = static_cast<const T*>(a.x), *xb = static_cast<const T*>(a.x_bias);
  const T* res = static_cast<const T*>(a.residual);
  const T scale = static_cast<T>(a.drop.p > 0 ? 1.0 / (1.0 - a.drop.p) : 1.0);
#pragma omp parallel for if (a.rows * n > kParallelGrain)
  for (int64_t r = 0; r < a.rows; ++r) {
    T* s = static_cast<T*>(a.sum_out) + r * n;
    const T* xr = x + r * n;
    uint8_t* keep = a.drop.p > 0 ? a.keep + r * n : nullptr;
    if (keep) dropout_mask(a.drop.seed, a.drop.offset + static_cast<uint64_t>(r * n), a.drop.p, n, keep);
    for (int64_t i = 0; i < n; ++i) {
      T v = xb ? xr[i] + xb[i] : xr[i];
      if (keep) v = keep[i] ? v * scale : T(0);
      s[i] = res ? v + res[r * n + i] : v;
    }
    normalize_row<T>(s, static_cast<const T*>(a.weight), static_cast<const T*>(a.bias), n, a.eps,
                     static_cast<T*>(a.y) + r * n, static_cast<T*>(a.mean) + r, static_cast<T*>(a.rstd) + r);
  }
}

template <class T>
void layer_norm_bwd(const T* g, const T* x, const T* mean, const T* rstd, const T* weight,
                    int64_t rows, int64_t n, T* dx, T* dweight, T* dbias) {
  if (dx) {
#pragma omp parallel for if (rows * n > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) {
      const T* gr = g + r * n;
      const T* xr = x + r * n;
      const T mu = mean[r], rs = rstd[r];
      // With xhat = (x - mu) * rstd and gw = g * w:
      // dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)).
      T sum_gw = 0, sum_gwx = 0;
      for (int64_t i = 0; i < n; ++i) {
        const T gw = weight ? gr[i] * weight[i] : gr[i];
        sum_gw += gw;
        sum_gwx += gw * (xr[i] - mu) * rs;
      }
      const T inv_n = T(1) / static_cast<T>(n);
      const T a = sum_gw * inv_n, b = sum_gwx * inv_n;
      T* d = dx + r * n;
      for (int64_t i = 0; i < n; ++i) {
        const T gw = weight ? gr[i] * weight[i] : gr[i];
        d[i] = rs * (gw - a - (xr[i] - mu) * rs * b);
      }
    }
  }
  if (!dweight && !dbias) return;
  constexpr int64_t kBlock = 64;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for if (rows * n > kParallelGrain)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kBlock, c1 = std::min(n, c0 + kBlock);
    T dw[kBlock] = {}, db[kBlock] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* gr = g + r * n;
      const T* xr = x + r * n;
      const T mu = mean[r], rs = rstd[r];
      for (int64_t c = c0; c < c1; ++c) {
        dw[c - c0] += gr[c] * (xr[c] - mu) * rs;
        db[c - c0] += gr[c];
      }
    }
    for (int64_t c = c0; c < c1; ++c) {
      if (dweight) dweight[c] = dw[c - c0];
      if (dbias) dbias[c] = db[c - c0];
    }
  }
}

#define FT_INSTANTIATE(T)                                                                        \
  template void layer_norm_fwd<T>(const T*, const T*, const T*, int64_t, int64_t, double, T*, T*, \
                                  T*, const T*, T*);                                                           \
  template void layer_norm_bwd<T>(const T*, const T*, const T*, const T*, const T*, int64_t,     \
                                  int64_t, T*, T*, T*);                                          \
  template void bias_dropout_layer_norm_fwd<T>(const BiasDropoutLayerNormArgs&);
FT_INSTANTIATE(float)
FT_INSTANTIATE(double)
#undef FT_INSTANTIATE

}  // namespace ft::kern
