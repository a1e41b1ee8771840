// The plain layout kernels receive (CPU and CUDA alike): shape and strides in elements (no Tensor, no autograd), plus
// helpers to walk it a row at a time. Kernels write contiguous outputs unless told otherwise.
#pragma once
#include <cstdint>

// Functions shared by CPU code and CUDA kernels (nvcc and the SIMT emulator).
#if defined(__CUDACC__)
#define FT_HD __host__ __device__ __forceinline__
#else
#define FT_HD inline
#endif

namespace ft::kern {

constexpr int kMaxDims = 16;

// Kernel-side element types, in the same order as ft::DType.
enum class Elem : uint8_t { f32, f64, bf16, f16, i64, i32, u8 };
inline const char* elem_name(Elem t) {
  switch (t) {
    case Elem::f32: return "f32";
    case Elem::f64: return "f64";
    case Elem::bf16: return "bf16";
    case Elem::f16: return "f16";
    case Elem::i64: return "i64";
    case Elem::i32: return "i32";
    case Elem::u8: return "bool";
  }
  return "?";
}

struct Strided {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};

  FT_HD int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < ndim; ++i) n *= shape[i];
    return n;
  }
  FT_HD bool contiguous() const {
    int64_t expect = 1;
    for (int i = ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && stride[i] != expect) return false;
      expect *= shape[i];
    }
    return true;
  }
  FT_HD int64_t inner() const { return ndim ? shape[ndim - 1] : 1; }
  FT_HD int64_t inner_stride() const { return ndim ? stride[ndim - 1] : 1; }
  // Element offset of the first element of row `row` (rows run over every dim but the last).
  FT_HD int64_t row_offset(int64_t row) const {
    int64_t off = 0;
    for (int d = ndim - 2; d >= 0; --d) {
      int64_t i = row % shape[d];
      row /= shape[d];
      off += i * stride[d];
    }
    return off;
  }
};

// Merges adjacent dims that are laid out contiguously in every operand and drops size-1 dims, so
// that a broadcast or transposed walk has as long inner rows as possible. All views share a shape.
FT_HD void coalesce(Strided* views, int count) {
  Strided& ref = views[0];
  int out = 0;
  for (int d = 0; d < ref.ndim; ++d) {
    if (ref.shape[d] == 1) continue;
    bool merge = out > 0;
    for (int v = 0; v < count && merge; ++v)
      merge = views[v].stride[out - 1] == views[v].stride[d] * views[v].shape[d];
    for (int v = 0; v < count; ++v) {
      if (merge) {
        views[v].shape[out - 1] *= views[v].shape[d];
        views[v].stride[out - 1] = views[v].stride[d];
      } else {
        views[v].shape[out] = views[v].shape[d];
        views[v].stride[out] = views[v].stride[d];
      }
    }
    if (!merge) ++out;
  }
  for (int v = 0; v < count; ++v) views[v].ndim = out;
}

// Threading threshold: below this many elements a parallel region costs more than it saves.
constexpr int64_t kParallelGrain = 1 << 15;

}  // namespace ft::kern
