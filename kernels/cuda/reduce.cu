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

// ---- multi-tensor passes: up to kTableSize tensors per launch, the table passed by value in the
// kernel's parameters (no device allocation, no copy); a block per chunk of kMultiChunk elements ----
constexpr int kTableSize = 96;
constexpr int64_t kMultiChunk = 65536;

struct Table {
  void* p[kTableSize];
  int64_t n[kTableSize];
  int64_t first_chunk[kTableSize + 1];  // chunk index where each tensor starts; [count] = end
  int count;
  int64_t chunk_base;  // this launch's first chunk in the whole list
};

static_assert(sizeof(Table) + 64 <= 4096, "the table must fit the kernel parameters");

// The table entry and element range of this block's chunk.
__device__ int entry_of(const Table& t, int64_t chunk) {
  int lo = 0, hi = t.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (t.first_chunk[mid] <= chunk) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

template <class T>
__global__ void sum_squares_chunks_kernel(Table t, double* partials) {
  const int64_t chunk = blockIdx.x;
  const int e = entry_of(t, chunk);
  const T* x = static_cast<const T*>(t.p[e]);
  const int64_t begin = (chunk - t.first_chunk[e]) * kMultiChunk;
  const int64_t end = begin + kMultiChunk < t.n[e] ? begin + kMultiChunk : t.n[e];
  double acc = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const double v = ld(x + i);
    acc += v * v;
  }
  acc = block_sum(acc);
  if (threadIdx.x == 0) partials[t.chunk_base + chunk] = acc;
}

__global__ void sum_partials_kernel(const double* partials, int64_t n, double* out) {
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += partials[i];
  acc = block_sum(acc);
  if (threadIdx.x == 0) *out = acc;
}

template <class T>
__global__ void clip_chunks_kernel(Table t, const double* sq, double max_norm) {
  const int64_t chunk = blockIdx.x;
  const int e = entry_of(t, chunk);
  T* x = static_cast<T*>(t.p[e]);
  const double coef = max_norm / (sqrt(*sq) + 1e-6);
  if (!(coef < 1.0)) return;  // nothing to clip (a NaN norm leaves the gradients, the step is skipped)
  const Acc<T> c = static_cast<Acc<T>>(coef);
  const int64_t begin = (chunk - t.first_chunk[e]) * kMultiChunk;
  const int64_t end = begin + kMultiChunk < t.n[e] ? begin + kMultiChunk : t.n[e];
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) st(x + i, ld(x + i) * c);
}

// Calls launch(table, chunks) for each group of at most kTableSize non-empty tensors.
template <class F>
void for_each_table(const kern::TensorRef* ts, int count, F&& launch) {
  Table t{};
  int64_t base = 0, chunks = 0;
  auto flush = [&] {
    if (t.count == 0) return;
    t.first_chunk[t.count] = chunks;
    t.chunk_base = base;
    launch(t, chunks);
    base += chunks;
    chunks = 0;
    t = Table{};
  };
  for (int i = 0; i < count; ++i) {
    if (ts[i].n == 0) continue;
    t.p[t.count] = ts[i].p;
    t.n[t.count] = ts[i].n;
    t.first_chunk[t.count] = chunks;
    ++t.count;
    chunks += (ts[i].n + kMultiChunk - 1) / kMultiChunk;
    if (t.count == kTableSize) flush();
  }
  flush();
}

}  // namespace

int64_t multi_chunks(const kern::TensorRef* ts, int count) {
  int64_t chunks = 0;
  for (int i = 0; i < count; ++i) chunks += (ts[i].n + kMultiChunk - 1) / kMultiChunk;
  return chunks;
}

void sum_squares_multi(Elem t, const kern::TensorRef* ts, int count, double* partials, double* out) {
  on_float(t, "clip_grad_norm", [&](auto tag) {
    using T = decltype(tag);
    for_each_table(ts, count, [&](const Table& table, int64_t chunks) {
      simt::launch(sum_squares_chunks_kernel<T>, dim3(static_cast<unsigned>(chunks)), dim3(kThreads), 0, stream(),
                   table, partials);
    });
  });
  simt::launch(sum_partials_kernel, dim3(1), dim3(1024), 0, stream(), static_cast<const double*>(partials),
               multi_chunks(ts, count), out);
}

void clip_multi(Elem t, const kern::TensorRef* ts, int count, const double* sq, double max_norm) {
  on_float(t, "clip_grad_norm", [&](auto tag) {
    using T = decltype(tag);
    for_each_table(ts, count, [&](const Table& table, int64_t chunks) {
      simt::launch(clip_chunks_kernel<T>, dim3(static_cast<unsigned>(chunks)), dim3(kThreads), 0, stream(), table, sq,
                   max_norm);
    });
  });
}

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
