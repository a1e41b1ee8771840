// Reductions over the middle axis of contiguous [outer, r, inner] data. Rows (inner == 1) get a
// block each and a fixed-order block reduction; other layouts a thread per output. Either way the
// order of additions is fixed, so results are deterministic.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/runtime.h"

namespace ft::cuda {
namespace {

template <class T>
__global__ void sum_rows_kernel(const T* in, int64_t r, T* out) {
  using A = Acc<T>;
  const T* row = in + blockIdx.x * r;
  A acc = 0;
  for (int64_t k = threadIdx.x; k < r; k += blockDim.x) acc += ld(row + k);
  acc = block_sum(acc);
  if (threadIdx.x == 0) st(out + blockIdx.x, acc);
}

template <class T>
__global__ void sum_strided_kernel(const T* in, int64_t outer, int64_t r, int64_t inner, T* out) {
  FT_GRID_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    Acc<T> acc = 0;
    for (int64_t k = 0; k < r; ++k) acc += ld(in + (o * r + k) * inner + i);
    st(out + j, acc);
  }
}

template <class T>
__global__ void var_kernel(const T* in, int64_t outer, int64_t r, int64_t inner, int64_t correction, T* out) {
  using A = Acc<T>;
  FT_GRID_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const T* p = in + o * r * inner + i;
    A mean = 0;
    for (int64_t k = 0; k < r; ++k) mean += ld(p + k * inner);
    mean /= static_cast<A>(r);
    A ss = 0;
    for (int64_t k = 0; k < r; ++k) {
      const A d = ld(p + k * inner) - mean;
      ss += d * d;
    }
    const A denom = static_cast<A>(r - correction);
    st(out + j, denom > 0 ? ss / denom : A(NAN));
  }
}

template <class T>
__global__ void max_kernel(const T* in, int64_t outer, int64_t r, int64_t inner, T* out, int64_t* idx) {
  FT_GRID_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    const T* p = in + o * r * inner + i;
    Acc<T> best = ld(p);
    int64_t at = 0;
    for (int64_t k = 1; k < r && best == best; ++k) {  // stops at a NaN, which is the maximum
      const Acc<T> v = ld(p + k * inner);
      if (v > best || v != v) best = v, at = k;
    }
    st(out + j, best);
    if (idx) idx[j] = at;
  }
}

template <class T>
__global__ void scatter_max_kernel(const T* g, const int64_t* idx, int64_t outer, int64_t r, int64_t inner, T* dx) {
  FT_GRID_LOOP(j, outer * inner) {
    const int64_t o = j / inner, i = j % inner;
    dx[(o * r + idx[j]) * inner + i] = g[j];
  }
}

// One block: each thread strides over the data in f64, then a fixed-order block sum.
template <class T>
__global__ void sum_squares_kernel(const T* x, int64_t n, double* out) {
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const double v = ld(x + i);
    acc += v * v;
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = acc;
}

template <class T>
__global__ void scale_kernel(T* x, int64_t n, Acc<T> s) {
  FT_GRID_LOOP(i, n) st(x + i, ld(x + i) * s);
}

}  // namespace

void reduce_sum(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out) {
  if (outer * inner == 0) return;
  on_float(t, "sum", [&](auto tag) {
    using T = decltype(tag);
    if (inner == 1 && outer <= 65535 * 1024)
      simt::launch(sum_rows_kernel<T>, dim3(static_cast<unsigned>(outer)), dim3(kThreads), 0, stream(),
                   static_cast<const T*>(in), r, static_cast<T*>(out));
    else
      simt::launch(sum_strided_kernel<T>, dim3(blocks_for(outer * inner)), dim3(kThreads), 0, stream(),
                   static_cast<const T*>(in), outer, r, inner, static_cast<T*>(out));
  });
}

void reduce_var(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, int64_t correction, void* out) {
  if (outer * inner == 0) return;
  on_float(t, "var", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(var_kernel<T>, dim3(blocks_for(outer * inner)), dim3(kThreads), 0, stream(), static_cast<const T*>(in),
                 outer, r, inner, correction, static_cast<T*>(out));
  });
}

void reduce_max(Elem t, const void* in, int64_t outer, int64_t r, int64_t inner, void* out, int64_t* idx) {
  if (outer * inner == 0) return;
  on_float(t, "max", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(max_kernel<T>, dim3(blocks_for(outer * inner)), dim3(kThreads), 0, stream(), static_cast<const T*>(in),
                 outer, r, inner, static_cast<T*>(out), idx);
  });
}

void scatter_max_grad(Elem t, const void* g, const int64_t* idx, int64_t outer, int64_t r, int64_t inner, void* dx) {
  if (outer * inner == 0) return;
  on_float(t, "max_backward", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(scatter_max_kernel<T>, dim3(blocks_for(outer * inner)), dim3(kThreads), 0, stream(),
                 static_cast<const T*>(g), idx, outer, r, inner, static_cast<T*>(dx));
  });
}

double sum_squares(Elem t, const void* x, int64_t n) {
  double* d = static_cast<double*>(device_malloc(sizeof(double)));
  if (!d) throw Error("sum_squares: out of device memory for 8 bytes");
  double host = 0;
  try {
    on_float(t, "clip_grad_norm", [&](auto tag) {
      using T = decltype(tag);
      simt::launch(sum_squares_kernel<T>, dim3(1), dim3(1024), 0, stream(), static_cast<const T*>(x), n, d);
    });
    copy_async(&host, d, sizeof(double), Copy::device_to_host, current_stream());
    stream_synchronize(current_stream());
  } catch (...) {
    device_free(d);
    throw;
  }
  device_free(d);
  return host;
}

void scale_inplace(Elem t, void* x, int64_t n, double s) {
  if (n == 0) return;
  on_float(t, "clip_grad_norm", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(scale_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), static_cast<T*>(x), n,
                 static_cast<Acc<T>>(s));
  });
}

}  // namespace ft::cuda
