// Row-major GEMM through cuBLAS. A row-major C[m,n] = op(A) op(B) is the column-major product
// C^T[n,m] = op(B)^T op(A)^T, so the operands swap and each keeps its own transpose flag.
// The emulated build links kernels/simt/cublas_emu.cpp instead of libcublas: same prototypes.
#include <cublas_v2.h>

#include <atomic>
#include <climits>

#include "core/error.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/runtime.h"

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

namespace {

std::atomic<bool> g_allow_tf32{false};

struct Types {
  cudaDataType data;
  cublasComputeType_t compute;
};

Types types_for(Elem t) {
  switch (t) {
    case Elem::f32: return {CUDA_R_32F, g_allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F};
    case Elem::f64: return {CUDA_R_64F, CUBLAS_COMPUTE_64F};
    case Elem::f16: return {CUDA_R_16F, CUBLAS_COMPUTE_32F};
    case Elem::bf16: return {CUDA_R_16BF, CUBLAS_COMPUTE_32F};
    default: throw Error(cat("matmul: unsupported dtype ", kern::elem_name(t), " on cuda"));
  }
}

}  // namespace

void set_allow_tf32(bool allow) { g_allow_tf32 = allow; }
bool allow_tf32() { return g_allow_tf32; }

void gemm(Elem t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const void* a, int64_t lda,
          const void* b, int64_t ldb, double beta, void* c, int64_t ldc) {
  gemm_batched(t, trans_a, trans_b, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1);
}

void gemm_batched(Elem t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const void* a,
                  int64_t lda, int64_t stride_a, const void* b, int64_t ldb, int64_t stride_b, double beta, void* c,
                  int64_t ldc, int64_t stride_c, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  const Types ty = types_for(t);
  const float af = static_cast<float>(alpha), bf = static_cast<float>(beta);
  const void* pa = t == Elem::f64 ? static_cast<const void*>(&alpha) : &af;
  const void* pb = t == Elem::f64 ? static_cast<const void*>(&beta) : &bf;
  check(cublasSetStream(handle(), reinterpret_cast<cudaStream_t>(current_stream())), "cublasSetStream");
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (batch == 1) {
    check(cublasGemmEx(handle(), op_b, op_a, as_int(n, "n"), as_int(m, "m"), as_int(k, "k"), pa, b, ty.data,
                       as_int(ldb, "ldb"), a, ty.data, as_int(lda, "lda"), pb, c, ty.data, as_int(ldc, "ldc"), ty.compute,
                       CUBLAS_GEMM_DEFAULT),
          "cublasGemmEx");
    return;
  }
  check(cublasGemmStridedBatchedEx(handle(), op_b, op_a, as_int(n, "n"), as_int(m, "m"), as_int(k, "k"), pa, b, ty.data,
                                   as_int(ldb, "ldb"), stride_b, a, ty.data, as_int(lda, "lda"), stride_a, pb, c,
                                   ty.data, as_int(ldc, "ldc"), stride_c, as_int(batch, "batch"), ty.compute,
                                   CUBLAS_GEMM_DEFAULT),
        "cublasGemmStridedBatchedEx");
}

}  // namespace ft::cuda
