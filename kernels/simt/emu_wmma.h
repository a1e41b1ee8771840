// nvcuda::wmma for the SIMT emulator, "replicated tile" version: every lane's fragment holds the
// whole tile (so num_elements differs from the hardware's per-lane count, which portable code must
// not depend on). Loads and mma_sync are warp collectives (all 32 lanes must take part, as on the
// hardware); stores are written by lane 0 after a __syncwarp. Inputs keep their stored precision,
// products accumulate in f32 and round once to the accumulator type. Shapes: 16x16x16, 32x8x16,
// 8x32x16 with half or bf16 inputs and float or half accumulators.
#pragma once

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {
template <class Use, int M, int N, int K>
struct Dims;
template <int M, int N, int K>
struct Dims<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct Dims<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct Dims<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};
template <class T>
float to_f(T v) {
  if constexpr (std::is_same_v<T, __half>) return __half2float(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(v);
  else return static_cast<float>(v);
}
template <class T>
T from_f(float v) {
  if constexpr (std::is_same_v<T, __half>) return __float2half_rn(v);
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else return static_cast<T>(v);
}
}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static_assert((M == 16 && N == 16 && K == 16) || (M == 32 && N == 8 && K == 16) || (M == 8 && N == 32 && K == 16),
                "wmma: unsupported shape");
  static constexpr int rows = detail::Dims<Use, M, N, K>::rows, cols = detail::Dims<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  T x[num_elements];  // row-major tile
};

template <class Use, int M, int N, int K, class T, class L, class V>
void fill_fragment(fragment<Use, M, N, K, T, L>& f, const V& v) {
  for (int i = 0; i < f.num_elements; ++i) f.x[i] = static_cast<T>(v);
}

namespace detail {
// The hardware's rules for load_matrix_sync / store_matrix_sync (CUDA programming guide): the
// pointer is 256-bit aligned and ldm is a multiple of 16 bytes.
template <class T>
void check_operand(const T* p, unsigned ldm, const char* file, int line) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0 || (ldm * sizeof(T)) % 16 != 0)
    simt::detail::kernel_abort(std::string("wmma: pointer not 32-byte aligned or ldm ") + std::to_string(ldm) +
                               " not a multiple of 16 bytes at " + file + ":" + std::to_string(line));
}
template <class F, class T>
void load(F& f, const T* p, unsigned ldm, bool row_major, const char* file, int line) {
  check_operand(p, ldm, file, line);
  __syncwarp(0xffffffffu, file, line);  // every lane must load, as on the hardware
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c) f.x[r * F::cols + c] = row_major ? p[r * ldm + c] : p[c * ldm + r];
}
}  // namespace detail

template <class Use, int M, int N, int K, class T, class L>
void load_matrix_sync(fragment<Use, M, N, K, T, L>& f, const T* p, unsigned ldm, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  static_assert(!std::is_void_v<L>, "wmma: matrix_a/matrix_b fragments need a row_major or col_major layout");
  detail::load(f, p, ldm, std::is_same_v<L, row_major>, file, line);
}

template <int M, int N, int K, class T>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm, layout_t layout,
                      const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::load(f, p, ldm, layout == mem_row_major, file, line);
}

template <int M, int N, int K, class T>
void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout,
                       const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  using F = fragment<accumulator, M, N, K, T>;
  detail::check_operand(p, ldm, file, line);
  __syncwarp(0xffffffffu, file, line);
  if (threadIdx.x % 32 != 0) return;  // one writer: the lanes hold identical tiles
  for (int r = 0; r < F::rows; ++r)
    for (int c = 0; c < F::cols; ++c) (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[r * F::cols + c];
}

template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b, const fragment<accumulator, M, N, K, TC>& c,
              const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  __syncwarp(0xffffffffu, file, line);
  // Inputs widened once (host half conversions are software routines), B transposed so the inner
  // loop runs over contiguous k; the sum order over k is the same as before.
  float af[M * K], bt[N * K];
  for (int i = 0; i < M * K; ++i) af[i] = detail::to_f(a.x[i]);
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < N; ++j) bt[j * K + k] = detail::to_f(b.x[k * N + j]);
  fragment<accumulator, M, N, K, TC> out;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float acc = detail::to_f(c.x[i * N + j]);
      for (int k = 0; k < K; ++k) acc += af[i * K + k] * bt[j * K + k];
      out.x[i * N + j] = detail::from_f<TC>(acc);
    }
  d = out;
}

}  // namespace nvcuda::wmma
