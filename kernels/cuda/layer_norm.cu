// LayerNorm over rows: the forward takes a block per row (two-pass mean and variance through
// fixed-order block sums); the backward computes dx with a block per row and dweight/dbias with a
// thread per column that adds rows in order, so parameter gradients are deterministic.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"

namespace ft::cuda {
namespace {

template <class T>
__global__ void ln_fwd_kernel(const T* x, const T* w, const T* b, int64_t n, Acc<T> eps, T* y, Acc<T>* mean,
                              Acc<T>* rstd, const T* residual, T* sum_out) {
  using A = Acc<T>;
  const T* xr = x + blockIdx.x * n;
  if (residual) {
    // Each thread writes and later reads back only its own elements: no barrier needed.
    T* sr = sum_out + blockIdx.x * n;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) st(sr + i, ld(xr + i) + ld(residual + blockIdx.x * n + i));
    xr = sr;
  }
  A s = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += ld(xr + i);
  const A mu = block_sum(s) / static_cast<A>(n);
  A v = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const A d = ld(xr + i) - mu;
    v += d * d;
  }
  const A var = block_sum(v) / static_cast<A>(n);
  const A rs = A(1) / kern::m_sqrt(var + eps);
  if (threadIdx.x == 0) {
    mean[blockIdx.x] = mu;
    rstd[blockIdx.x] = rs;
  }
  T* yr = y + blockIdx.x * n;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    A o = (ld(xr + i) - mu) * rs;
    if (w) o *= ld(w + i);
    if (b) o += ld(b + i);
    st(yr + i, o);
  }
}

template <class T>
__global__ void ln_bwd_dx_kernel(const T* g, const T* x, const Acc<T>* mean, const Acc<T>* rstd, const T* w, int64_t n,
                                 T* dx) {
  using A = Acc<T>;
  const int64_t base = blockIdx.x * n;
  const A mu = mean[blockIdx.x], rs = rstd[blockIdx.x];
  A sum_gw = 0, sum_gwx = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const A gw = w ? ld(g + base + i) * ld(w + i) : ld(g + base + i);
    sum_gw += gw;
    sum_gwx += gw * (ld(x + base + i) - mu) * rs;
  }
  const A a = block_sum(sum_gw) / static_cast<A>(n);
  const A c = block_sum(sum_gwx) / static_cast<A>(n);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const A gw = w ? ld(g + base + i) * ld(w + i) : ld(g + base + i);
    st(dx + base + i, rs * (gw - a - (ld(x + base + i) - mu) * rs * c));
  }
}

template <class T>
__global__ void ln_bwd_params_kernel(const T* g, const T* x, const Acc<T>* mean, const Acc<T>* rstd, int64_t rows,
                                     int64_t n, T* dw, T* db) {
  using A = Acc<T>;
  FT_GRID_LOOP(col, n) {
    A sw = 0, sb = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const A gv = ld(g + r * n + col);
      sw += gv * (ld(x + r * n + col) - mean[r]) * rstd[r];
      sb += gv;
    }
    if (dw) st(dw + col, sw);
    if (db) st(db + col, sb);
  }
}

}  // namespace

void layer_norm_fwd(Elem t, const void* x, const void* w, const void* b, int64_t rows, int64_t n, double eps, void* y,
                    void* mean, void* rstd, const void* residual, void* sum_out) {
  if (rows == 0) return;
  on_float(t, "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    simt::launch(ln_fwd_kernel<T>, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, stream(),
                 static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(b), n, static_cast<A>(eps),
                 static_cast<T*>(y), static_cast<A*>(mean), static_cast<A*>(rstd), static_cast<const T*>(residual),
                 static_cast<T*>(sum_out));
  });
}

void layer_norm_bwd(Elem t, const void* g, const void* x, const void* mean, const void* rstd, const void* w,
                    int64_t rows, int64_t n, void* dx, void* dw, void* db) {
  if (rows == 0) return;
  on_float(t, "layer_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    if (dx)
      simt::launch(ln_bwd_dx_kernel<T>, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, stream(),
                   static_cast<const T*>(g), static_cast<const T*>(x), static_cast<const A*>(mean),
                   static_cast<const A*>(rstd), static_cast<const T*>(w), n, static_cast<T*>(dx));
    if (dw || db)
      simt::launch(ln_bwd_params_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), static_cast<const T*>(g),
                   static_cast<const T*>(x), static_cast<const A*>(mean), static_cast<const A*>(rstd), rows, n,
                   static_cast<T*>(dw), static_cast<T*>(db));
  });
}

}  // namespace ft::cuda
