// Elementwise kernels over strided (broadcast) inputs with a contiguous output: one thread per
// output element in a grid-stride loop. The pointwise math is kernels/common/ops.h, shared with the
// CPU kernels, and dropout draws the same Philox stream as the CPU (value i for element i).
#include "kernels/common/convert.h"
#include "kernels/common/philox.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"

namespace ft::cuda {
namespace {

using kern::BinaryOp;
using kern::UnaryOp;

template <class A>
__device__ A apply_unary(UnaryOp op, A v, A a, A b) {
  switch (op) {
#define FT_CASE(o) \
  case UnaryOp::o: return kern::unary_fn<UnaryOp::o>(v, a, b);
    FT_UNARY_OPS(FT_CASE)
#undef FT_CASE
  }
  return v;
}

template <class A>
__device__ A apply_binary(BinaryOp op, A p, A q, A a, A b) {
  switch (op) {
#define FT_CASE(o) \
  case BinaryOp::o: return kern::binary_fn<BinaryOp::o>(p, q, a, b);
    FT_BINARY_OPS(FT_CASE)
#undef FT_CASE
  }
  return p;
}

template <class T>
__global__ void unary_kernel(UnaryOp op, Acc<T> a, Acc<T> b, const T* x, Strided xv, T* out, int64_t n) {
  FT_GRID_LOOP(i, n)
    st(out + i, apply_unary<Acc<T>>(op, ld(x + offset_of(xv, i)), a, b));
}

template <class T>
__global__ void binary_kernel(BinaryOp op, Acc<T> a, Acc<T> b, const T* x, Strided xv, const T* y, Strided yv, T* out,
                              int64_t n) {
  FT_GRID_LOOP(i, n)
    st(out + i, apply_binary<Acc<T>>(op, ld(x + offset_of(xv, i)), ld(y + offset_of(yv, i)), a, b));
}

template <class T>
__global__ void where_kernel(const uint8_t* c, Strided cv, const T* x, Strided xv, const T* y, Strided yv, T* out,
                             int64_t n) {
  FT_GRID_LOOP(i, n)
    out[i] = c[offset_of(cv, i)] ? x[offset_of(xv, i)] : y[offset_of(yv, i)];
}

// Conversions are kernels/common/convert.h, shared with the CPU: the same bits on both.
__global__ void copy_cast_kernel(const uint8_t* src, Elem st_, Strided sv, uint8_t* dst, Elem dt, Strided dv, int64_t n) {
  const int ss = kern::elem_bytes(st_), ds = kern::elem_bytes(dt);
  FT_GRID_LOOP(i, n) kern::convert_one(src + offset_of(sv, i) * ss, st_, dst + offset_of(dv, i) * ds, dt);
}

__global__ void fill_kernel(uint8_t* dst, Elem t, Strided dv, double value, int64_t n) {
  const int ds = kern::elem_bytes(t);
  FT_GRID_LOOP(i, n) kern::store_double(dst + offset_of(dv, i) * ds, t, value);
}

__global__ void philox_kernel(uint64_t seed, uint64_t offset, int64_t n, bool normal, float* out) {
  FT_GRID_LOOP(i, n) {
    if (normal) {
      const uint64_t pair = offset + static_cast<uint64_t>(i & ~int64_t(1));
      out[i] = kern::normal_from_u32_pair(kern::philox_u32(seed, pair), kern::philox_u32(seed, pair + 1), i & 1);
    } else {
      out[i] = kern::uniform_from_u32(kern::philox_u32(seed, offset + static_cast<uint64_t>(i)));
    }
  }
}

__global__ void dropout_mask_kernel(uint64_t seed, uint64_t offset, float p, int64_t n, uint8_t* keep) {
  FT_GRID_LOOP(i, n)
    keep[i] = kern::uniform_from_u32(kern::philox_u32(seed, offset + static_cast<uint64_t>(i))) > p;
}

template <class T>
__global__ void apply_mask_kernel(const T* x, const uint8_t* keep, Acc<T> scale, int64_t n, T* out) {
  FT_GRID_LOOP(i, n)
    st(out + i, keep[i] ? ld(x + i) * scale : Acc<T>(0));
}

}  // namespace

void unary(kern::UnaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, void* out) {
  const int64_t n = xv.numel();
  if (n == 0) return;
  on_float(t, "unary", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(unary_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), op, static_cast<Acc<T>>(a),
                 static_cast<Acc<T>>(b), static_cast<const T*>(x), xv, static_cast<T*>(out), n);
  });
}

void binary(kern::BinaryOp op, double a, double b, Elem t, const void* x, const Strided& xv, const void* y,
            const Strided& yv, void* out) {
  const int64_t n = xv.numel();
  if (n == 0) return;
  on_float(t, "binary", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(binary_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), op, static_cast<Acc<T>>(a),
                 static_cast<Acc<T>>(b), static_cast<const T*>(x), xv, static_cast<const T*>(y), yv,
                 static_cast<T*>(out), n);
  });
}

void where(const void* cond, const Strided& cv, Elem t, const void* x, const Strided& xv, const void* y,
           const Strided& yv, void* out) {
  const int64_t n = cv.numel();
  if (n == 0) return;
  on_float(t, "where", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(where_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), static_cast<const uint8_t*>(cond),
                 cv, static_cast<const T*>(x), xv, static_cast<const T*>(y), yv, static_cast<T*>(out), n);
  });
}

void copy_cast(const void* src, Elem st_, const Strided& sv, void* dst, Elem dt, const Strided& dv) {
  const int64_t n = sv.numel();
  if (n == 0) return;
  simt::launch(copy_cast_kernel, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), static_cast<const uint8_t*>(src),
               st_, sv, static_cast<uint8_t*>(dst), dt, dv, n);
}

void fill(void* dst, Elem t, const Strided& dv, double value) {
  const int64_t n = dv.numel();
  if (n == 0) return;
  simt::launch(fill_kernel, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), static_cast<uint8_t*>(dst), t, dv, value,
               n);
}

void philox_fill(uint64_t seed, uint64_t offset, int64_t n, bool normal, float* out) {
  if (n == 0) return;
  simt::launch(philox_kernel, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), seed, offset, n, normal, out);
}

void dropout_mask(uint64_t seed, uint64_t offset, double p, int64_t n, uint8_t* keep) {
  if (n == 0) return;
  simt::launch(dropout_mask_kernel, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), seed, offset,
               static_cast<float>(p), n, keep);
}

void apply_mask(Elem t, const void* x, const uint8_t* keep, double scale, int64_t n, void* out) {
  if (n == 0) return;
  on_float(t, "dropout", [&](auto tag) {
    using T = decltype(tag);
    simt::launch(apply_mask_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), static_cast<const T*>(x), keep,
                 static_cast<Acc<T>>(scale), n, static_cast<T*>(out));
  });
}

}  // namespace ft::cuda
