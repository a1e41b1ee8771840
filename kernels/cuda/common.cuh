// Shared pieces of the CUDA kernels (compiled by nvcc, or by g++ for the SIMT emulator):
// accumulation types, loads and stores that convert half types, launch geometry, block reductions.
#pragma once
#include <cstdint>
#include <type_traits>

#include "core/error.h"
#include "kernels/common/ops.h"
#include "kernels/common/strided.h"
#include "kernels/cuda/runtime.h"
#include "kernels/simt/simt.h"

namespace ft::cuda {

// Arithmetic happens in Acc<T>: f32 for f32/bf16/f16 storage, f64 for f64.
template <class T>
struct AccOf {
  using type = float;
};
template <>
struct AccOf<double> {
  using type = double;
};
template <class T>
using Acc = typename AccOf<T>::type;

template <class T>
__device__ __forceinline__ Acc<T> ld(const T* p) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(*p);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(*p);
  else return *p;
}
template <class T>
__device__ __forceinline__ void st(T* p, Acc<T> v) {
  if constexpr (std::is_same_v<T, __half>) *p = __float2half_rn(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) *p = __float2bfloat16_rn(v);
  else *p = v;
}

// Element offset of linear index i of a strided view (row-major order over its shape).
__device__ __forceinline__ int64_t offset_of(const kern::Strided& v, int64_t i) {
  int64_t off = 0;
  for (int d = v.ndim - 1; d >= 0; --d) {
    const int64_t s = v.shape[d];
    off += (i % s) * v.stride[d];
    i /= s;
  }
  return off;
}

// The stream launches go to: the calling thread's current stream (kernels/cuda/runtime.h).
inline simt::Stream stream() { return reinterpret_cast<simt::Stream>(current_stream()); }

constexpr int kThreads = 256;
inline unsigned blocks_for(int64_t n, int threads = kThreads, int64_t max_blocks = 4096) {
  int64_t b = (n + threads - 1) / threads;
  if (b < 1) b = 1;
  return static_cast<unsigned>(b < max_blocks ? b : max_blocks);
}

// Sum over a block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
template <class A>
__device__ A block_sum(A v) {
  __shared__ A warp_part[32];
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  __syncthreads();  // warp_part may still be read by a previous call
  if (lane == 0) warp_part[warp] = v;
  __syncthreads();
  A total = 0;
  for (int w = 0; w < warps; ++w) total += warp_part[w];  // same order in every thread: deterministic
  return total;
}

template <class A>
__device__ A block_max(A v) {
  __shared__ A warp_part[32];
  for (int o = 16; o > 0; o /= 2) {
    const A other = __shfl_xor_sync(0xffffffffu, v, o);
    v = other > v ? other : v;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
  __syncthreads();
  if (lane == 0) warp_part[warp] = v;
  __syncthreads();
  A m = warp_part[0];
  for (int w = 1; w < warps; ++w) m = warp_part[w] > m ? warp_part[w] : m;
  return m;
}

// Calls f(T{}) for the element type: the four floating types the CUDA kernels compute in.
template <class F>
void on_float(kern::Elem t, const char* op, F&& f) {
  switch (t) {
    case kern::Elem::f32: return f(float{});
    case kern::Elem::f64: return f(double{});
    case kern::Elem::bf16: return f(__nv_bfloat16{});
    case kern::Elem::f16: return f(__half{});
    default: throw Error(cat(op, ": unsupported dtype ", kern::elem_name(t), " on cuda"));
  }
}

// Grid-stride loop over [0, n).
#define FT_GRID_LOOP(i, n)                                                                   \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

}  // namespace ft::cuda
