// softmax / log_softmax over rows and cross-entropy fused with its softmax: one block per row,
// reductions through the fixed-order block_max / block_sum (kernels/cuda/common.cuh).
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"

namespace ft::cuda {
namespace {

template <class T>
__global__ void softmax_fwd_kernel(const T* x, int64_t n, bool log, T* y) {
  using A = Acc<T>;
  const T* xr = x + blockIdx.x * n;
  T* yr = y + blockIdx.x * n;
  A mx = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) mx = ld(xr + i) > mx ? ld(xr + i) : mx;
  mx = block_max(mx);
  if (mx == -INFINITY) mx = 0;
  A sum = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) sum += kern::m_exp(ld(xr + i) - mx);
  sum = block_sum(sum);
  const A lse = kern::m_log(sum);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const A z = ld(xr + i) - mx;
    st(yr + i, log ? z - lse : kern::m_exp(z) / sum);
  }
}

template <class T>
__global__ void softmax_bwd_kernel(const T* g, const T* y, int64_t n, bool log, T* dx) {
  using A = Acc<T>;
  const int64_t base = blockIdx.x * n;
  A acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += log ? ld(g + base + i) : ld(g + base + i) * ld(y + base + i);
  acc = block_sum(acc);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const A gi = ld(g + base + i), yi = ld(y + base + i);
    st(dx + base + i, log ? gi - kern::m_exp(yi) * acc : yi * (gi - acc));
  }
}

template <class T>
__global__ void ce_fwd_kernel(const T* logits, const int64_t* target, int64_t classes, int64_t ignore_index,
                              double smoothing, Acc<T>* loss, Acc<T>* lse_out, Acc<T>* valid) {
  using A = Acc<T>;
  const T* z = logits + blockIdx.x * classes;
  A mx = -INFINITY;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) mx = ld(z + c) > mx ? ld(z + c) : mx;
  mx = block_max(mx);
  A sum = 0, zsum = 0;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
    sum += kern::m_exp(ld(z + c) - mx);
    zsum += ld(z + c);
  }
  sum = block_sum(sum);
  zsum = block_sum(zsum);
  if (threadIdx.x != 0) return;
  const A l = mx + kern::m_log(sum);
  lse_out[blockIdx.x] = l;
  const int64_t t = target[blockIdx.x];
  valid[blockIdx.x] = t == ignore_index ? A(0) : A(1);
  if (t == ignore_index || t < 0 || t >= classes) {  // a bad target is in the device's error record
    loss[blockIdx.x] = 0;
    return;
  }
  const A nll = l - ld(z + t), smooth = l - zsum / static_cast<A>(classes);
  loss[blockIdx.x] = static_cast<A>((1 - smoothing) * nll + smoothing * smooth);
}

template <class T>
__global__ void ce_bwd_kernel(const T* logits, const int64_t* target, const Acc<T>* lse, int64_t classes,
                              int64_t ignore_index, Acc<T> off, Acc<T> hit, const Acc<T>* scale_ptr, T* dlogits) {
  using A = Acc<T>;
  const int64_t row = blockIdx.x, t = target[row];
  const A scale = *scale_ptr;
  const T* z = logits + row * classes;
  T* d = dlogits + row * classes;
  for (int64_t c = threadIdx.x; c < classes; c += blockDim.x) {
    A v = 0;
    if (t != ignore_index) v = scale * (kern::m_exp(ld(z + c) - lse[row]) - off - (c == t ? hit : A(0)));
    st(d + c, v);
  }
}

unsigned rows_grid(int64_t rows) { return static_cast<unsigned>(rows); }

}  // namespace

void softmax_fwd(Elem t, const void* x, int64_t rows, int64_t n, bool log, void* y) {
  if (rows == 0 || n == 0) return;
  on_float(t, "softmax", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(softmax_fwd_kernel<T>, dim3(rows_grid(rows)), dim3(kThreads), 0, stream(), static_cast<const T*>(x), n,
                 log, static_cast<T*>(y));
  });
}

void softmax_bwd(Elem t, const void* g, const void* y, int64_t rows, int64_t n, bool log, void* dx) {
  if (rows == 0 || n == 0) return;
  on_float(t, "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(softmax_bwd_kernel<T>, dim3(rows_grid(rows)), dim3(kThreads), 0, stream(), static_cast<const T*>(g),
                 static_cast<const T*>(y), n, log, static_cast<T*>(dx));
  });
}

void cross_entropy_fwd(Elem t, const void* logits, const int64_t* target, int64_t rows, int64_t classes,
                       int64_t ignore_index, double smoothing, void* loss, void* lse, void* valid) {
  if (rows == 0) return;
  on_float(t, "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(ce_fwd_kernel<T>, dim3(rows_grid(rows)), dim3(kThreads), 0, stream(), static_cast<const T*>(logits),
                 target, classes, ignore_index, smoothing, static_cast<Acc<T>*>(loss), static_cast<Acc<T>*>(lse),
                 static_cast<Acc<T>*>(valid));
  });
}

void cross_entropy_bwd(Elem t, const void* logits, const int64_t* target, const void* lse, int64_t rows,
                       int64_t classes, int64_t ignore_index, double smoothing, const void* scale, void* dlogits) {
  if (rows == 0) return;
  on_float(t, "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    simt::launch(ce_bwd_kernel<T>, dim3(rows_grid(rows)), dim3(kThreads), 0, stream(), static_cast<const T*>(logits),
                 target, static_cast<const A*>(lse), classes, ignore_index,
                 static_cast<A>(smoothing / static_cast<double>(classes)), static_cast<A>(1 - smoothing),
                 static_cast<const A*>(scale), static_cast<T*>(dlogits));
  });
}

}  // namespace ft::cuda
