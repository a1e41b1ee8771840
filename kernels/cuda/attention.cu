// Flash attention on CUDA (FlashAttention-2's algorithm): forward and backward in one launch each,
// no score matrix in global memory. Semantics are kernels/common/attention.h's, the ones the CPU
// kernels and the composite have: additive mask, per-sequence lengths, dropout on the probabilities
// from the Philox value of each (b, h, i, j), so all three draw the same mask.
//
// Tiling. A block of 4 warps takes 64 query rows (16 per warp) and streams 64-key tiles of k and v
// through shared memory. Each warp multiplies its 16 rows with a WarpTile: WMMA fragments (tensor
// cores, f32 accumulation) for bf16/f16, plain per-lane f32 FMAs for f32 (exact, no TF32). WMMA's
// fragment layout is unspecified, so every row-wise step (mask, max, exp, sum, the output's
// rescale) happens on f32 tiles in shared memory, each row owned by two lanes of its warp. The head
// dim is padded with zeros to D = 32, 64 or 128 in shared memory, so any d <= 128 runs; d > 128 is
// an error.
//
// Forward: the online softmax keeps, per row, the running max m and sum l of the undropped
// probabilities; the output accumulates (P o Z) V unnormalised in an f32 shared tile and is divided
// by l (and by 1 - p) once at the end; lse = m + log(l) in f32 is saved for the backward. A row
// with no key at all (every mask value -inf) gets output 0 and lse +inf (FlashAttention's
// convention), so the backward gives it zero gradients.
//
// Backward: one block per (batch, head), the single writer of every gradient of that head, so no
// atomics and no split to reduce: the result is the same bits every run. It computes
// delta_i = dO_i . O_i from the saved output, then for each key tile (outer) and query tile (inner)
// recomputes P = exp(s - lse), accumulates dV += (P o Z)^T dO and dK += dS^T Q in per-warp
// fragments (each warp owns 16 keys) and dQ += dS K in an f32 workspace in global memory, where
// dS = P o (dO V^T o Z - delta). Padding rows and keys never contribute: their tiles are zero-filled
// and their probabilities are 0.
#include <cmath>
#include <type_traits>

#include "kernels/common/attention.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"

namespace ft::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kWarps = 4, kThreadsAttn = 32 * kWarps;
constexpr int kBr = 16 * kWarps;  // query rows per block
constexpr int kBc = 64;           // keys per tile
constexpr int kPadT = 8;          // row padding of operand tiles (16-bit WMMA wants ld % 8 == 0)
constexpr int kPadF = 4;          // row padding of f32 tiles (ld % 4 == 0)

template <class T>
constexpr bool kTensorCores = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// Leading dimensions of the shared tiles.
template <int D>
constexpr int kLdT = D + kPadT;  // q, k, v, dO: [rows][D] in T
constexpr int kLdS = kBc + kPadF;  // scores: [kBr][kBc] in f32
template <class T>
constexpr int kLdP = kTensorCores<T> ? kBc + kPadT : kLdS;  // probabilities: in T (f32 tiles reuse the scores')
template <int D>
constexpr int kLdO = D + kPadF;  // f32 output accumulator / staging: [kBr][D]

constexpr size_t round128(size_t n) { return (n + 127) / 128 * 128; }

// ---- a warp's 16 x N block of f32 results ----

template <class L>
__device__ __forceinline__ int64_t at(int r, int c, int ld) {
  if constexpr (std::is_same_v<L, wmma::row_major>) return static_cast<int64_t>(r) * ld + c;
  else return static_cast<int64_t>(c) * ld + r;
}

template <class T, int N, bool TC = kTensorCores<T>>
struct WarpTile;

// Tensor cores: one 16x16 accumulator fragment per 16 columns.
template <class T, int N>
struct WarpTile<T, N, true> {
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> f[N / 16];
  __device__ void zero() {
    for (int n = 0; n < N / 16; ++n) wmma::fill_fragment(f[n], 0.0f);
  }
  __device__ void load(const float* p, int ld) {
    for (int n = 0; n < N / 16; ++n) wmma::load_matrix_sync(f[n], p + 16 * n, ld, wmma::mem_row_major);
  }
  __device__ void store(float* p, int ld) const {
    for (int n = 0; n < N / 16; ++n) wmma::store_matrix_sync(p + 16 * n, f[n], ld, wmma::mem_row_major);
  }
  __device__ void scale(float s) {  // uniform over the tile: legal whatever the fragment layout
    for (int n = 0; n < N / 16; ++n)
      for (int e = 0; e < f[n].num_elements; ++e) f[n].x[e] *= s;
  }
  // this += A B, A: 16 x K at a (layout LA), B: K x N at b (layout LB), both T in memory.
  template <class LA, class LB>
  __device__ void mma(const T* a, int lda, const T* b, int ldb, int k) {
    for (int k0 = 0; k0 < k; k0 += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, LA> fa;
      wmma::load_matrix_sync(fa, a + at<LA>(0, k0, lda), lda);
      for (int n = 0; n < N / 16; ++n) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, LB> fb;
        wmma::load_matrix_sync(fb, b + at<LB>(k0, 16 * n, ldb), ldb);
        wmma::mma_sync(f[n], fa, fb, f[n]);
      }
    }
  }
};

// f32: lane l holds elements l, l + 32, ... of the row-major 16 x N block.
template <class T, int N>
struct WarpTile<T, N, false> {
  static constexpr int kPer = 16 * N / 32;
  float v[kPer];
  __device__ void zero() {
    for (int t = 0; t < kPer; ++t) v[t] = 0;
  }
  __device__ void load(const float* p, int ld) {
    for (int t = 0; t < kPer; ++t) v[t] = p[row(t) * ld + col(t)];
  }
  __device__ void store(float* p, int ld) const {
    for (int t = 0; t < kPer; ++t) p[row(t) * ld + col(t)] = v[t];
  }
  __device__ void scale(float s) {
    for (int t = 0; t < kPer; ++t) v[t] *= s;
  }
  template <class LA, class LB>
  __device__ void mma(const T* a, int lda, const T* b, int ldb, int k) {
    for (int t = 0; t < kPer; ++t) {
      const int r = row(t), c = col(t);
      float acc = v[t];
      for (int kk = 0; kk < k; ++kk) acc += ld(a + at<LA>(r, kk, lda)) * ld(b + at<LB>(kk, c, ldb));
      v[t] = acc;
    }
  }
  static __device__ int row(int t) { return static_cast<int>((threadIdx.x % 32 + 32 * t) / N); }
  static __device__ int col(int t) { return static_cast<int>((threadIdx.x % 32 + 32 * t) % N); }
};

// ---- tile loads: rows [r0, r0 + rows) of a [batch, heads, t, d] operand, zero past `valid` rows and d ----

template <class T, int D>
__device__ void load_rows(T* dst, const T* src, const kern::AttnStrides& s, int64_t b, int64_t h, int64_t r0,
                          int rows, int64_t valid, int64_t d) {
  for (int e = threadIdx.x; e < rows * D; e += blockDim.x) {
    const int r = e / D, c = e % D;
    const int64_t i = r0 + r;
    if (i < valid && c < d) dst[r * kLdT<D> + c] = src[s.at(b, h, i) + c];
    else st(dst + r * kLdT<D> + c, 0.0f);
  }
}

// The dropout factor of probability (g, i, j): Z / (1 - p), or 1 without dropout.
__device__ __forceinline__ float drop_factor(const kern::AttentionArgs& a, int64_t g, int64_t i, int64_t j,
                                             float keep_scale) {
  if (a.dropout_p <= 0) return 1.0f;
  const uint32_t u = kern::philox_u32(a.seed, a.offset + a.dropout_index(g, i, j));
  return kern::uniform_from_u32(u) > static_cast<float>(a.dropout_p) ? keep_scale : 0.0f;
}

template <class T, int D>
struct FwdSmem {
  static constexpr size_t q = 0;
  static constexpr size_t k = q + round128(sizeof(T) * kBr * kLdT<D>);
  static constexpr size_t v = k + round128(sizeof(T) * kBc * kLdT<D>);
  static constexpr size_t s = v + round128(sizeof(T) * kBc * kLdT<D>);
  static constexpr size_t p = s + round128(sizeof(float) * kBr * kLdS);
  static constexpr size_t o = p + (kTensorCores<T> ? round128(sizeof(T) * kBr * kLdP<T>) : 0);
  static constexpr size_t bytes = o + round128(sizeof(float) * kBr * kLdO<D>);
};

template <class T, int D>
__global__ void __launch_bounds__(kThreadsAttn) flash_fwd_kernel(kern::AttentionArgs a) {
  using L = FwdSmem<T, D>;
  const int64_t b = blockIdx.z, h = blockIdx.y, g = b * a.heads + h, i0 = static_cast<int64_t>(blockIdx.x) * kBr;
  const int64_t qlen = a.q_len(b), klen = a.k_len(b);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  // Each row of a warp's 16 is owned by two lanes: row r, columns half, half + 2, ...
  const int r = warp * 16 + lane / 2, half = lane % 2;
  const int64_t i = i0 + r;
  T* out = static_cast<T*>(a.out);
  float* lse = static_cast<float*>(a.lse);
  if (i0 >= qlen) {  // the whole tile is padding (block-uniform): zeros, lse 0, as the CPU kernel
    for (int e = threadIdx.x; e < kBr * a.d; e += blockDim.x) {
      const int64_t row = i0 + e / a.d;
      if (row < a.tq) st(out + a.os.at(b, h, row) + e % a.d, 0.0f);
    }
    if (threadIdx.x < kBr && i0 + threadIdx.x < a.tq) lse[g * a.tq + i0 + threadIdx.x] = 0;
    return;
  }
  unsigned char* smem = simt::dynamic_smem<unsigned char>();
  T* qs = reinterpret_cast<T*>(smem + L::q);
  T* ks = reinterpret_cast<T*>(smem + L::k);
  T* vs = reinterpret_cast<T*>(smem + L::v);
  float* ss = reinterpret_cast<float*>(smem + L::s);
  T* ps = reinterpret_cast<T*>(smem + (kTensorCores<T> ? L::p : L::s));
  float* os = reinterpret_cast<float*>(smem + L::o);
  load_rows<T, D>(qs, static_cast<const T*>(a.q), a.qs, b, h, i0, kBr, qlen, a.d);
  for (int e = threadIdx.x; e < kBr * kLdO<D>; e += blockDim.x) os[e] = 0;
  const float scale = static_cast<float>(a.scale), keep_scale = static_cast<float>(1.0 / (1.0 - a.dropout_p));
  const float* mask = static_cast<const float*>(a.mask);
  float m = -INFINITY, l = 0;  // running max and sum of row r (both lanes hold them)
  for (int64_t j0 = 0; j0 < klen; j0 += kBc) {
    __syncthreads();  // the previous tile's k and v are no longer read
    load_rows<T, D>(ks, static_cast<const T*>(a.k), a.ks, b, h, j0, kBc, klen, a.d);
    load_rows<T, D>(vs, static_cast<const T*>(a.v), a.vs, b, h, j0, kBc, klen, a.d);
    __syncthreads();
    {
      WarpTile<T, kBc> s;
      s.zero();
      s.template mma<wmma::row_major, wmma::col_major>(qs + warp * 16 * kLdT<D>, kLdT<D>, ks, kLdT<D>, D);
      s.store(ss + warp * 16 * kLdS, kLdS);
    }
    __syncwarp();
    float* srow = ss + r * kLdS;
    float mx = -INFINITY;
    for (int j = half; j < kBc; j += 2) {
      const int64_t jj = j0 + j;
      float x = -INFINITY;  // keys past the sequence, and rows past it (their output is zero)
      if (jj < klen && i < qlen) x = srow[j] * scale + (mask ? mask[a.mask_at(b, h, i, jj)] : 0.0f);
      srow[j] = x;
      mx = x > mx ? x : mx;
    }
    const float other = __shfl_xor_sync(0xffffffffu, mx, 1);
    mx = other > mx ? other : mx;
    const float m_new = mx > m ? mx : m;
    const float pivot = m_new == -INFINITY ? 0.0f : m_new;  // no finite score yet: exp(-inf - 0) = 0
    const float alpha = kern::m_exp(m - pivot);
    float sum = 0;
    T* prow = ps + r * kLdP<T>;
    for (int j = half; j < kBc; j += 2) {
      const float p = kern::m_exp(srow[j] - pivot);
      sum += p;
      st(prow + j, p > 0 ? p * drop_factor(a, g, i, j0 + j, 1.0f) : 0.0f);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    l = alpha * l + sum;
    m = m_new;
    for (int c = half; c < D; c += 2) os[r * kLdO<D> + c] *= alpha;
    __syncwarp();
    WarpTile<T, D> o;
    o.load(os + warp * 16 * kLdO<D>, kLdO<D>);
    o.template mma<wmma::row_major, wmma::row_major>(ps + warp * 16 * kLdP<T>, kLdP<T>, vs, kLdT<D>, kBc);
    o.store(os + warp * 16 * kLdO<D>, kLdO<D>);
    __syncwarp();
  }
  if (i >= a.tq) return;
  const bool valid = i < qlen && l > 0;
  const float f = valid ? (a.dropout_p > 0 ? keep_scale : 1.0f) / l : 0.0f;
  for (int c = half; c < a.d; c += 2) st(out + a.os.at(b, h, i) + c, os[r * kLdO<D> + c] * f);
  if (half == 0) lse[g * a.tq + i] = i >= qlen ? 0.0f : l > 0 ? m + kern::m_log(l) : INFINITY;
}

template <class T, int D>
struct BwdSmem {
  static constexpr size_t k = 0;
  static constexpr size_t v = k + round128(sizeof(T) * kBc * kLdT<D>);
  static constexpr size_t q = v + round128(sizeof(T) * kBc * kLdT<D>);  // q and dO also stage dK, dV (f32)
  static constexpr size_t dout = q + round128(sizeof(T) * kBr * kLdT<D>);
  static constexpr size_t s = dout + round128(sizeof(T) * kBr * kLdT<D>);
  static constexpr size_t g = s + round128(sizeof(float) * kBr * kLdS);
  static constexpr size_t pd = g + round128(sizeof(float) * kBr * kLdS);
  static constexpr size_t ds = pd + (kTensorCores<T> ? round128(sizeof(T) * kBr * kLdP<T>) : 0);
  static constexpr size_t rows = ds + (kTensorCores<T> ? round128(sizeof(T) * kBr * kLdP<T>) : 0);
  static constexpr size_t bytes = rows + round128(sizeof(float) * 2 * kBr);
  static_assert(dout + round128(sizeof(T) * kBr * kLdT<D>) - q >= sizeof(float) * kBr * kLdO<D>,
                "q and dO must hold a f32 staging tile");
};

// The f32 workspace of the backward: per (batch, head), dQ accumulators [tq_pad][D] and delta [tq_pad].
FT_HD int64_t padded_rows(int64_t tq) { return (tq + kBr - 1) / kBr * kBr; }

template <class T, int D>
__device__ void store_grad_rows(T* dst, const kern::AttnStrides& s, const float* stage, int64_t b, int64_t h,
                                int64_t j0, int64_t limit, int64_t d) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int e = lane; e < 16 * d; e += 32) {
    const int rr = e / static_cast<int>(d), c = e % static_cast<int>(d);
    const int64_t j = j0 + warp * 16 + rr;
    if (j < limit) st(dst + s.at(b, h, j) + c, stage[(warp * 16 + rr) * kLdO<D> + c]);
  }
}

template <class T, int D>
__global__ void __launch_bounds__(kThreadsAttn) flash_bwd_kernel(kern::AttentionArgs a, float* workspace) {
  using L = BwdSmem<T, D>;
  const int64_t g = blockIdx.x, b = g / a.heads, h = g % a.heads;
  const int64_t qlen = a.q_len(b), klen = a.k_len(b), tq_pad = padded_rows(a.tq);
  const int64_t q_tiles_end = (qlen + kBr - 1) / kBr * kBr;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int r = warp * 16 + lane / 2, half = lane % 2;
  float* dq_acc = workspace + g * tq_pad * D;
  float* delta = workspace + a.batch * a.heads * tq_pad * D + g * tq_pad;
  const T* out = static_cast<const T*>(a.out);
  const T* dout = static_cast<const T*>(a.dout);
  const float* lse = static_cast<const float*>(a.lse);
  const float* mask = static_cast<const float*>(a.mask);
  const float scale = static_cast<float>(a.scale), keep_scale = static_cast<float>(1.0 / (1.0 - a.dropout_p));
  T* dq = static_cast<T*>(a.dq);
  T* dk = static_cast<T*>(a.dk);
  T* dv = static_cast<T*>(a.dv);

  // delta_i = dO_i . O_i (from the stored output, as FlashAttention does), one row per warp at a
  // time; the dQ accumulators of the computed tiles start at zero.
  for (int64_t i = warp; i < qlen; i += kWarps) {
    float acc = 0;
    for (int64_t c = lane; c < a.d; c += 32) acc += ld(dout + a.dos.at(b, h, i) + c) * ld(out + a.os.at(b, h, i) + c);
    for (int o = 16; o > 0; o /= 2) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if (lane == 0) delta[i] = acc;
  }
  for (int64_t e = threadIdx.x; e < q_tiles_end * D; e += blockDim.x) dq_acc[e] = 0;
  __syncthreads();

  unsigned char* smem = simt::dynamic_smem<unsigned char>();
  T* ks = reinterpret_cast<T*>(smem + L::k);
  T* vs = reinterpret_cast<T*>(smem + L::v);
  T* qs = reinterpret_cast<T*>(smem + L::q);
  T* dos = reinterpret_cast<T*>(smem + L::dout);
  float* stage = reinterpret_cast<float*>(smem + L::q);
  float* ss = reinterpret_cast<float*>(smem + L::s);
  float* gs = reinterpret_cast<float*>(smem + L::g);
  T* pds = reinterpret_cast<T*>(smem + (kTensorCores<T> ? L::pd : L::s));
  T* dss = reinterpret_cast<T*>(smem + (kTensorCores<T> ? L::ds : L::g));
  float* lse_s = reinterpret_cast<float*>(smem + L::rows);
  float* delta_s = lse_s + kBr;

  int64_t j0 = 0;
  for (; j0 < klen; j0 += kBc) {
    load_rows<T, D>(ks, static_cast<const T*>(a.k), a.ks, b, h, j0, kBc, klen, a.d);
    load_rows<T, D>(vs, static_cast<const T*>(a.v), a.vs, b, h, j0, kBc, klen, a.d);
    WarpTile<T, D> dkt, dvt;  // keys j0 + 16 warp ...: dK, dV
    dkt.zero();
    dvt.zero();
    for (int64_t i0 = 0; i0 < qlen; i0 += kBr) {
      load_rows<T, D>(qs, static_cast<const T*>(a.q), a.qs, b, h, i0, kBr, qlen, a.d);
      load_rows<T, D>(dos, dout, a.dos, b, h, i0, kBr, qlen, a.d);
      if (threadIdx.x < kBr) {
        const int64_t i = i0 + threadIdx.x;
        lse_s[threadIdx.x] = i < qlen ? lse[g * a.tq + i] : INFINITY;  // padding rows: P = 0
        delta_s[threadIdx.x] = i < qlen ? delta[i] : 0.0f;
      }
      __syncthreads();
      {
        WarpTile<T, kBc> s;
        s.zero();
        s.template mma<wmma::row_major, wmma::col_major>(qs + warp * 16 * kLdT<D>, kLdT<D>, ks, kLdT<D>, D);
        s.store(ss + warp * 16 * kLdS, kLdS);
        WarpTile<T, kBc> gt;  // dO V^T: the gradient of the dropped probabilities
        gt.zero();
        gt.template mma<wmma::row_major, wmma::col_major>(dos + warp * 16 * kLdT<D>, kLdT<D>, vs, kLdT<D>, D);
        gt.store(gs + warp * 16 * kLdS, kLdS);
      }
      __syncwarp();
      const int64_t i = i0 + r;
      const float row_lse = lse_s[r], row_delta = delta_s[r];
      for (int j = half; j < kBc; j += 2) {
        const int64_t jj = j0 + j;
        float p = 0, z = 0;
        if (jj < klen && i < qlen) {
          p = kern::m_exp(ss[r * kLdS + j] * scale + (mask ? mask[a.mask_at(b, h, i, jj)] : 0.0f) - row_lse);
          z = drop_factor(a, g, i, jj, keep_scale);
        }
        const float gv = gs[r * kLdS + j];
        st(pds + r * kLdP<T> + j, p * z);
        st(dss + r * kLdP<T> + j, p * (gv * z - row_delta));
      }
      __syncthreads();  // every warp's rows of P o Z and dS
      dvt.template mma<wmma::col_major, wmma::row_major>(pds + warp * 16, kLdP<T>, dos, kLdT<D>, kBr);
      dkt.template mma<wmma::col_major, wmma::row_major>(dss + warp * 16, kLdP<T>, qs, kLdT<D>, kBr);
      {
        WarpTile<T, D> dqt;  // rows i0 + 16 warp ...: dQ += dS K
        float* acc = dq_acc + (i0 + warp * 16) * D;
        dqt.load(acc, D);
        dqt.template mma<wmma::row_major, wmma::row_major>(dss + warp * 16 * kLdP<T>, kLdP<T>, ks, kLdT<D>, kBc);
        dqt.store(acc, D);
      }
      __syncthreads();  // before the next query tile overwrites q, dO, P and dS
    }
    dkt.scale(scale);
    if (dk) {
      dkt.store(stage + warp * 16 * kLdO<D>, kLdO<D>);
      __syncwarp();
      store_grad_rows<T, D>(dk, a.dks, stage, b, h, j0, a.tk, a.d);
      __syncwarp();
    }
    if (dv) {
      dvt.store(stage + warp * 16 * kLdO<D>, kLdO<D>);
      __syncwarp();
      store_grad_rows<T, D>(dv, a.dvs, stage, b, h, j0, a.tk, a.d);
    }
    __syncthreads();  // the next key tile overwrites k, v and the staging tile
  }
  // Keys in tiles wholly past the sequence: zero gradients.
  for (int64_t e = threadIdx.x; j0 < a.tk && e < (a.tk - j0) * a.d; e += blockDim.x) {
    const int64_t j = j0 + e / a.d, c = e % a.d;
    if (dk) st(dk + a.dks.at(b, h, j) + c, 0.0f);
    if (dv) st(dv + a.dvs.at(b, h, j) + c, 0.0f);
  }
  if (!dq) return;
  for (int64_t e = threadIdx.x; e < a.tq * a.d; e += blockDim.x) {
    const int64_t i = e / a.d, c = e % a.d;
    st(dq + a.dqs.at(b, h, i) + c, i < qlen ? dq_acc[i * D + c] * scale : 0.0f);
  }
}

int head_tile(int64_t d) {
  FT_CHECK(d >= 1 && d <= 128, "scaled_dot_product_attention: head dim ", d,
           " is not supported by the CUDA flash kernel (1 to 128; it pads to 32, 64 or 128)");
  return d <= 32 ? 32 : d <= 64 ? 64 : 128;
}

// Calls f(T{}, integral_constant<D>) for the element type (f32, bf16, f16) and the head tile.
template <class F>
void dispatch(const kern::AttentionArgs& a, const char* op, F&& f) {
  const int tile = head_tile(a.d);
  auto with_tile = [&](auto tag) {
    if (tile == 32) return f(tag, std::integral_constant<int, 32>{});
    if (tile == 64) return f(tag, std::integral_constant<int, 64>{});
    return f(tag, std::integral_constant<int, 128>{});
  };
  switch (a.dtype) {
    case Elem::f32: return with_tile(float{});
    case Elem::bf16: return with_tile(__nv_bfloat16{});
    case Elem::f16: return with_tile(__half{});
    default: throw Error(cat(op, ": the CUDA flash kernel computes f32, bf16 and f16, not ", kern::elem_name(a.dtype)));
  }
}

// Raises the kernel's dynamic shared memory limit (above 48 KB needs the opt-in; per device, so at
// every launch: a host-side attribute, no synchronisation).
template <class K>
void allow_smem(K kernel, size_t bytes) {
  if (bytes > 48 * 1024) simt::set_max_dynamic_smem(kernel, bytes);
}

// The emulator checks that what the kernels read through the arguments is device memory (no-ops on
// a GPU); strided operands are checked by the engine's own allocations.
void check_args(const kern::AttentionArgs& a) {
  if (a.lengths) check_device_range(a.lengths, sizeof(int64_t) * a.batch, "scaled_dot_product_attention lengths");
  check_device_range(a.lse, sizeof(float) * a.batch * a.heads * a.tq, "scaled_dot_product_attention lse");
}

}  // namespace

size_t attention_bwd_workspace_bytes(const kern::AttentionArgs& a) {
  const int64_t tile = head_tile(a.d);
  return static_cast<size_t>(a.batch * a.heads * padded_rows(a.tq) * (tile + 1)) * sizeof(float);
}

void attention_fwd(const kern::AttentionArgs& a) {
  if (a.batch * a.heads * a.tq == 0) return;
  FT_CHECK(a.tk > 0, "scaled_dot_product_attention: no keys");
  check_args(a);
  dispatch(a, "scaled_dot_product_attention", [&](auto tag, auto dtag) {
    using T = decltype(tag);
    constexpr int D = decltype(dtag)::value;
    constexpr size_t bytes = FwdSmem<T, D>::bytes;
    allow_smem(flash_fwd_kernel<T, D>, bytes);
    const dim3 grid(static_cast<unsigned>(padded_rows(a.tq) / kBr), static_cast<unsigned>(a.heads),
                    static_cast<unsigned>(a.batch));
    simt::launch(flash_fwd_kernel<T, D>, grid, dim3(kThreadsAttn), bytes, stream(), a);
  });
}

void attention_bwd(const kern::AttentionArgs& a, void* workspace) {
  if (a.batch * a.heads == 0) return;
  FT_CHECK(a.out && a.dout && workspace, "scaled_dot_product_attention_backward: the CUDA kernel needs the forward "
           "output, its gradient and a workspace");
  check_args(a);
  dispatch(a, "scaled_dot_product_attention_backward", [&](auto tag, auto dtag) {
    using T = decltype(tag);
    constexpr int D = decltype(dtag)::value;
    constexpr size_t bytes = BwdSmem<T, D>::bytes;
    allow_smem(flash_bwd_kernel<T, D>, bytes);
    simt::launch(flash_bwd_kernel<T, D>, dim3(static_cast<unsigned>(a.batch * a.heads)), dim3(kThreadsAttn), bytes,
                 stream(), a, static_cast<float*>(workspace));
  });
}

}  // namespace ft::cuda
