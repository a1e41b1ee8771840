// Row-major GEMM: C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C. lda/ldb/ldc are row
// strides of the stored (untransposed) matrices. f32 goes to oneDNN's matmul (default) or OpenBLAS
// sgemm (kernels/cpu/gemm.cpp says why); f64 is a plain loop: the reference every f32 result is
// checked against.
#pragma once
#include <cstdint>

#include "kernels/common/strided.h"

namespace ft::kern {

enum class GemmImpl { onednn, openblas };
void set_gemm_implementation(GemmImpl impl);  // not thread-safe against running GEMMs
GemmImpl gemm_implementation();

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// bf16 or f16 operands (all three in type t) with f32 accumulation; alpha and beta are applied in
// f32 and C is rounded once. bf16 runs oneDNN's matmul (AMX or AVX512-BF16 kernels where the CPU has
// them); where oneDNN has no kernel for the type on this CPU, A, B and C are widened to f32, the f32
// GEMM runs and C is rounded: the same result up to accumulation order.
void gemm_low(Elem t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const void* a,
              int64_t lda, const void* b, int64_t ldb, float beta, void* c, int64_t ldc);
// Whether gemm_low runs oneDNN's kernels for t on this CPU (false: the widening path).
bool gemm_low_native(Elem t);

}  // namespace ft::kern
