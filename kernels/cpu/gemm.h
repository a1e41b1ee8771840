// Row-major GEMM: C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C. lda/ldb/ldc are row
// strides of the stored (untransposed) matrices. f32 goes to oneDNN's matmul (default) or OpenBLAS
// sgemm (kernels/cpu/gemm.cpp says why); f64 is a plain loop: the reference every f32 result is
// checked against.
#pragma once
#include <cstdint>

namespace ft::kern {

enum class GemmImpl { onednn, openblas };
void set_gemm_implementation(GemmImpl impl);  // not thread-safe against running GEMMs
GemmImpl gemm_implementation();

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
          int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

}  // namespace ft::kern
