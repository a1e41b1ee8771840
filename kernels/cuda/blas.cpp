// Row-major GEMM through cuBLAS. A row-major C[m,n] = op(A) op(B) is the column-major product
// C^T[n,m] = op(B)^T op(A)^T, so the operands swap and each keeps its own transpose flag.
// The emulated build links kernels/simt/cublas_emu.cpp instead of libcublas: same prototypes.
#include <cublas_v2.h>

#include <climits>

#include "core/error.h"
#include "kernels/cuda/launchers.h"

namespace ft::cuda {
namespace {

void check(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS) throw Error(cat(call, " failed: ", cublasGetStatusName(s), ": ", cublasGetStatusString(s)));
}

cublasHandle_t handle() {
  thread_local cublasHandle_t h = [] {
    cublasHandle_t created = nullptr;
    check(cublasCreate(&created), "cublasCreate");
    return created;
  }();
  return h;
}

int as_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX) throw Error(cat("gemm: ", what, " = ", v, " does not fit cuBLAS's int"));
  return static_cast<int>(v);
}

}  // namespace

void gemm(Elem t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const void* a, int64_t lda,
          const void* b, int64_t ldb, double beta, void* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  cudaDataType dt;
  cublasComputeType_t ct = CUBLAS_COMPUTE_32F;
  switch (t) {
    case Elem::f32: dt = CUDA_R_32F; break;
    case Elem::f64: dt = CUDA_R_64F; ct = CUBLAS_COMPUTE_64F; break;
    case Elem::f16: dt = CUDA_R_16F; break;
    case Elem::bf16: dt = CUDA_R_16BF; break;
    default: throw Error(cat("matmul: unsupported dtype ", kern::elem_name(t), " on cuda"));
  }
  const float af = static_cast<float>(alpha), bf = static_cast<float>(beta);
  const void* pa = t == Elem::f64 ? static_cast<const void*>(&alpha) : &af;
  const void* pb = t == Elem::f64 ? static_cast<const void*>(&beta) : &bf;
  check(cublasGemmEx(handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                     as_int(n, "n"), as_int(m, "m"), as_int(k, "k"), pa, b, dt, as_int(ldb, "ldb"), a, dt,
                     as_int(lda, "lda"), pb, c, dt, as_int(ldc, "ldc"), ct, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
}

}  // namespace ft::cuda
