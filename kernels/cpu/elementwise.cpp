#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/common/convert.h"
#include "kernels/cpu/simd/kernels.h"

namespace ft::kern {
namespace {

// Walks n-ary strided inputs (already of the output's shape) and writes a contiguous output.
// Contiguous operands take one flat loop the compiler vectorises; others go row by row.
template <class T, class F>
void map1(const T* x, Strided xv, T* out, F f) {
  const int64_t n = xv.numel();
  Strided views[1] = {xv};
  coalesce(views, 1);
  xv = views[0];
  if (xv.contiguous()) {
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
    return;
  }
  const int64_t inner = xv.inner(), rows = n / std::max<int64_t>(inner, 1), sx = xv.inner_stride();
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + xv.row_offset(r);
    T* o = out + r * inner;
    for (int64_t i = 0; i < inner; ++i) o[i] = f(xr[i * sx]);
  }
}

template <class T, class F>
void map2(const T* x, const Strided& xv0, const T* y, const Strided& yv0, T* out, F f) {
  const int64_t n = xv0.numel();
  // The output is contiguous: include it so coalescing keeps its row-major order.
  Strided views[3] = {xv0, yv0, xv0};
  int64_t s = 1;
  for (int d = xv0.ndim - 1; d >= 0; --d) views[2].stride[d] = s, s *= xv0.shape[d];
  coalesce(views, 3);
  const Strided &xv = views[0], &yv = views[1];
  if (xv.contiguous() && yv.contiguous()) {
#pragma omp parallel for simd if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i], y[i]);
    return;
  }
  const int64_t inner = xv.inner(), rows = n / std::max<int64_t>(inner, 1);
  const int64_t sx = xv.inner_stride(), sy = yv.inner_stride();
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + xv.row_offset(r);
    const T* yr = y + yv.row_offset(r);
    T* o = out + r * inner;
    for (int64_t i = 0; i < inner; ++i) o[i] = f(xr[i * sx], yr[i * sy]);
  }
}

}  // namespace

template <class T>
void unary(UnaryOp op, double a_, double b_, const T* x, const Strided& xv, T* out) {
  // f32 transcendental ops on contiguous data: the vectorised kernels (kernels/cpu/simd).
  if constexpr (std::is_same_v<T, float>)
    if (xv.contiguous() && simd::kernels().unary(op, x, xv.numel(), out)) return;
  const T a = static_cast<T>(a_), b = static_cast<T>(b_);
  switch (op) {
#define FT_CASE(o) \
  case UnaryOp::o: return map1(x, xv, out, [a, b](T v) { return unary_fn<UnaryOp::o>(v, a, b); });
    FT_UNARY_OPS(FT_CASE)
#undef FT_CASE
  }
}

template <class T>
void binary(BinaryOp op, double a_, double b_, const T* x, const Strided& xv, const T* y, const Strided& yv, T* out) {
  if constexpr (std::is_same_v<T, float>) {
    if ((op == BinaryOp::gelu_erf_grad || op == BinaryOp::gelu_tanh_grad) && xv.contiguous() && yv.contiguous()) {
      simd::kernels().gelu_grad(op == BinaryOp::gelu_erf_grad, x, y, nullptr, 1, xv.numel(), out);
      return;
    }
  }
  const T a = static_cast<T>(a_), b = static_cast<T>(b_);
  switch (op) {
#define FT_CASE(o) \
  case BinaryOp::o: return map2(x, xv, y, yv, out, [a, b](T p, T q) { return binary_fn<BinaryOp::o>(p, q, a, b); });
    FT_BINARY_OPS(FT_CASE)
#undef FT_CASE
  }
}

template <class T>
void where(const uint8_t* cond, const Strided& cv0, const T* x, const Strided& xv0, const T* y,
           const Strided& yv0, T* out) {
  Strided views[4] = {cv0, xv0, yv0, cv0};
  int64_t s = 1;
  for (int d = cv0.ndim - 1; d >= 0; --d) views[3].stride[d] = s, s *= cv0.shape[d];
  coalesce(views, 4);
  const Strided &cv = views[0], &xv = views[1], &yv = views[2];
  const int64_t n = cv.numel(), inner = cv.inner(), rows = n / std::max<int64_t>(inner, 1);
  const int64_t sc = cv.inner_stride(), sx = xv.inner_stride(), sy = yv.inner_stride();
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* cr = cond + cv.row_offset(r);
    const T* xr = x + xv.row_offset(r);
    const T* yr = y + yv.row_offset(r);
    T* o = out + r * inner;
    for (int64_t i = 0; i < inner; ++i) o[i] = cr[i * sc] ? xr[i * sx] : yr[i * sy];
  }
}

template <class T>
void bias_gelu_fwd(bool exact, const T* x, const T* bias, int64_t rows, int64_t n, T* y) {
  if constexpr (std::is_same_v<T, float>) {
    return simd::kernels().bias_gelu(exact, x, bias, rows, n, y);
  } else {
#pragma omp parallel for if (rows * n > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < n; ++c) {
        const T v = x[r * n + c] + (bias ? bias[c] : T(0));
        y[r * n + c] = exact ? gelu_erf(v) : gelu_tanh(v);
      }
  }
}

template <class T>
void bias_gelu_bwd(bool exact, const T* g, const T* x, const T* bias, int64_t rows, int64_t n, T* dx) {
  if constexpr (std::is_same_v<T, float>) {
    return simd::kernels().gelu_grad(exact, g, x, bias, rows, n, dx);
  } else {
#pragma omp parallel for if (rows * n > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < n; ++c) {
        const T v = x[r * n + c] + (bias ? bias[c] : T(0));
        dx[r * n + c] = g[r * n + c] * (exact ? gelu_erf_d(v) : gelu_tanh_d(v));
      }
  }
}

#define FT_INSTANTIATE(T)                                                                          \
  template void bias_gelu_fwd<T>(bool, const T*, const T*, int64_t, int64_t, T*);                 \
  template void bias_gelu_bwd<T>(bool, const T*, const T*, const T*, int64_t, int64_t, T*);      \
  template void unary<T>(UnaryOp, double, double, const T*, const Strided&, T*);                  \
  template void binary<T>(BinaryOp, double, double, const T*, const Strided&, const T*,           \
                          const Strided&, T*);                                                    \
  template void where<T>(const uint8_t*, const Strided&, const T*, const Strided&, const T*,      \
                         const Strided&, T*);
FT_INSTANTIATE(float)
FT_INSTANTIATE(double)
#undef FT_INSTANTIATE

// ---- copies with conversion (kernels/common/convert.h) ----

void copy_cast(const void* src, Elem st, const Strided& sv0, void* dst, Elem dt, const Strided& dv0) {
  Strided views[2] = {sv0, dv0};
  coalesce(views, 2);
  const Strided &sv = views[0], &dv = views[1];
  const int64_t ss = elem_bytes(st), ds = elem_bytes(dt);
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  const int64_t n = sv.numel(), inner = sv.inner(), rows = n / std::max<int64_t>(inner, 1);
  if (st == dt && sv.contiguous() && dv.contiguous()) {
    std::memcpy(d, s, static_cast<size_t>(n * ss));
    return;
  }
  const int64_t si = sv.inner_stride(), di = dv.inner_stride();
  if (st == dt && si == 1 && di == 1) {  // rows contiguous on both sides (a broadcast bias, a slice): memcpy each
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r)
      std::memcpy(d + dv.row_offset(r) * ds, s + sv.row_offset(r) * ss, static_cast<size_t>(inner * ss));
    return;
  }
  // f32 <-> bf16 (autocast's casts) through the vectorised kernels, with the bits of convert_one:
  // whole contiguous tensors in parallel chunks, unit-stride rows (a strided view) one by one.
  if (si == 1 && di == 1 && ((st == Elem::f32 && dt == Elem::bf16) || (st == Elem::bf16 && dt == Elem::f32))) {
    const simd::Kernels& k = simd::kernels();
    auto row = [&](const uint8_t* sr, uint8_t* drow, int64_t len) {
      if (st == Elem::f32) k.f32_to_bf16(reinterpret_cast<const float*>(sr), len, reinterpret_cast<uint16_t*>(drow));
      else k.bf16_to_f32(reinterpret_cast<const uint16_t*>(sr), len, reinterpret_cast<float*>(drow));
    };
    if (rows == 1) {  // one contiguous run: chunks of it on all threads
      constexpr int64_t kChunk = 1 << 14;
      const int64_t chunks = (inner + kChunk - 1) / kChunk;
      const uint8_t* s0 = s + sv.row_offset(0) * ss;
      uint8_t* d0 = d + dv.row_offset(0) * ds;
#pragma omp parallel for if (chunks > 1)
      for (int64_t c = 0; c < chunks; ++c)
        row(s0 + c * kChunk * ss, d0 + c * kChunk * ds, std::min(kChunk, inner - c * kChunk));
      return;
    }
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t r = 0; r < rows; ++r) row(s + sv.row_offset(r) * ss, d + dv.row_offset(r) * ds, inner);
    return;
  }
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* sr = s + sv.row_offset(r) * ss;
    uint8_t* drow = d + dv.row_offset(r) * ds;
    for (int64_t i = 0; i < inner; ++i) convert_one(sr + i * si * ss, st, drow + i * di * ds, dt);
  }
}

void fill(void* dst, Elem t, const Strided& dv0, double value) {
  Strided views[1] = {dv0};
  coalesce(views, 1);
  const Strided& dv = views[0];
  const int64_t ds = elem_bytes(t);
  uint8_t pattern[8];
  store_double(pattern, t, value);
  auto* d = static_cast<uint8_t*>(dst);
  const int64_t n = dv.numel(), inner = dv.inner(), rows = n / std::max<int64_t>(inner, 1);
  const int64_t di = dv.inner_stride();
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* drow = d + dv.row_offset(r) * ds;
    for (int64_t i = 0; i < inner; ++i) std::memcpy(drow + i * di * ds, pattern, static_cast<size_t>(ds));
  }
}

}  // namespace ft::kern
