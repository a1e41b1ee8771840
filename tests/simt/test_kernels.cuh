// Kernels that exercise the SIMT emulator itself (tests/simt/test_emulator.cpp). They follow the
// kernel source rules, so they would compile with nvcc as well.
#pragma once
#include "kernels/simt/simt.h"

// Each thread writes its input to shared memory and reads its left neighbour's slot. Without the
// barrier that is a race: correct only if thread t-1 happens to run before thread t.
template <bool kSync>
__global__ void neighbour_kernel(const int* in, int* out) {
  __shared__ int tile[256];
  const int t = threadIdx.x;
  tile[t] = in[blockIdx.x * blockDim.x + t];
  if (kSync) __syncthreads();
  out[blockIdx.x * blockDim.x + t] = t > 0 ? tile[t - 1] : tile[t];
}

// A barrier reached only by the first warp.
__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 32) __syncthreads();
  out[threadIdx.x] = 1;
}

// Two different barriers met by different threads in the same phase.
__global__ void two_sites_kernel(int* out) {
  if (threadIdx.x % 2)
    __syncthreads();
  else
    __syncthreads();
  out[threadIdx.x] = 1;
}

// Every shuffle flavour, with widths 32, 16 and 8; out has 8 values per thread.
__global__ void shuffle_kernel(int* out) {
  const int lane = threadIdx.x % 32;
  const int v = 100 + static_cast<int>(threadIdx.x);
  int* o = out + threadIdx.x * 8;
  o[0] = __shfl_sync(0xffffffffu, v, 5);
  o[1] = __shfl_sync(0xffffffffu, v, lane + 3, 16);  // wraps inside each 16-lane segment
  o[2] = __shfl_up_sync(0xffffffffu, v, 3);
  o[3] = __shfl_down_sync(0xffffffffu, v, 2, 8);
  o[4] = __shfl_xor_sync(0xffffffffu, v, 1);
  o[5] = __shfl_xor_sync(0xffffffffu, v, 8, 8);  // would reach a later 8-lane group: own value
  o[6] = __shfl_down_sync(0xffffffffu, static_cast<double>(v) * 0.5, 1) * 2;
  o[7] = __shfl_xor_sync(0xffffffffu, v, 16, 32);
}

// Two half-warps shuffle concurrently with disjoint masks; then vote functions.
__global__ void vote_kernel(int* out) {
  const int lane = threadIdx.x % 32;
  const unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  int* o = out + threadIdx.x * 6;
  o[0] = __shfl_sync(half, lane * 10, lane < 16 ? 0 : 16);
  o[1] = static_cast<int>(__ballot_sync(0xffffffffu, lane % 3 == 0));
  o[2] = __any_sync(0xffffffffu, lane == 7);
  o[3] = __all_sync(0xffffffffu, lane < 31);
  o[4] = __syncthreads_count(lane % 2);
  o[5] = __syncthreads_or(threadIdx.x == 40) + 2 * __syncthreads_and(threadIdx.x < 1000);
}

// Block sum: grid-stride loads, warp shuffles, shared memory, a warp-0-only final reduce, atomics.
__device__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_down_sync(0xffffffffu, v, o);
  return v;
}
__global__ void block_sum_kernel(const float* x, int n, float* partial, float* total, int* count) {
  __shared__ float warp_sums[32];
  float acc = 0;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) acc += x[i];
  acc = warp_sum(acc);
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = acc;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < blockDim.x / 32 ? warp_sums[threadIdx.x] : 0.f;
    v = warp_sum(v);
    if (threadIdx.x == 0) {
      partial[blockIdx.x] = v;
      atomicAdd(total, v);
      atomicAdd(count, 1);
    }
  }
}

// Threads past n return early, then the rest reduce with a full mask: lanes read exited lanes.
__global__ void early_exit_reduce_kernel(const float* x, int n, float* out) {
  if (static_cast<int>(threadIdx.x) >= n) return;
  float v = warp_sum(x[threadIdx.x]);
  if (threadIdx.x % 32 == 0) out[threadIdx.x / 32] = v;
}

// Reads dynamic shared memory before writing it (poisoned: NaN), then writes and reads it.
__global__ void dynamic_smem_kernel(float* out) {
  float* s = simt::dynamic_smem<float>();
  out[threadIdx.x] = s[threadIdx.x];
  __syncthreads();
  s[threadIdx.x] = static_cast<float>(threadIdx.x);
  __syncthreads();
  out[blockDim.x + threadIdx.x] = s[blockDim.x - 1 - threadIdx.x];
}

// Lane 0 waits at a barrier while the rest of its warp waits for it in a shuffle.
__global__ void deadlock_kernel(int* out) {
  if (threadIdx.x == 0)
    __syncthreads();
  else
    out[threadIdx.x] = __shfl_sync(0xffffffffu, 1, 0);
}

__global__ void throwing_kernel(int n) {
  if (static_cast<int>(threadIdx.x) == n) throw std::runtime_error("bad element");
}

// Device-only half and bf16 functions, one result per lane.
__global__ void half_math_kernel(const __half* x, const __nv_bfloat16* y, float* out) {
  const int i = threadIdx.x;
  out[i * 6 + 0] = __half2float(hexp(x[i]));
  out[i * 6 + 1] = __half2float(hsqrt(x[i]));
  out[i * 6 + 2] = __half2float(__hfma(x[i], x[i], x[i]));
  out[i * 6 + 3] = __bfloat162float(hrsqrt(y[i]));
  out[i * 6 + 4] = __bfloat162float(__hfma(y[i], y[i], y[i]));
  out[i * 6 + 5] = __half2float(__shfl_xor_sync(0xffffffffu, x[i], 1));
}

// C[16,16] = A[16,32] B[32,16] with half inputs and a float accumulator, one warp, two k-steps.
__global__ void wmma_gemm_kernel(const __half* a, const __half* b, float* c) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k = 0; k < 32; k += 16) {
    wmma::load_matrix_sync(fa, a + k, 32);       // A row-major, ld 32
    wmma::load_matrix_sync(fb, b + k, 32);       // B column-major (B^T row-major), ld 32
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(c, acc, 16, wmma::mem_row_major);
}

// Only half of the warp loads: a divergent warp collective.
__global__ void wmma_divergent_kernel(const __half* a) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  if (threadIdx.x < 16) wmma::load_matrix_sync(fa, a, 16);
}
