// A stand-in for the parts of cuBLAS the engine calls, with cuBLAS's exact prototypes and
// column-major semantics, so that the row-major -> column-major argument mapping of
// kernels/cuda/blas.cpp is tested without a GPU. Beyond cuBLAS's own argument validation it checks
// that every operand's extent lies inside one device allocation (a wrong leading dimension or a
// swapped operand reads outside it). Products accumulate in double, outputs round to their type.
#include <cublas_v2.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/common/half.h"
#include "kernels/cuda/runtime.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
};

namespace {

size_t type_size(cudaDataType t) {
  switch (t) {
    case CUDA_R_32F: return 4;
    case CUDA_R_64F: return 8;
    case CUDA_R_16F: case CUDA_R_16BF: return 2;
    default: return 0;
  }
}

double load(const void* base, cudaDataType t, int64_t i) {
  switch (t) {
    case CUDA_R_32F: return static_cast<const float*>(base)[i];
    case CUDA_R_64F: return static_cast<const double*>(base)[i];
    case CUDA_R_16F: return ft::kern::f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    case CUDA_R_16BF: return ft::kern::bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
    default: return 0;
  }
}

void store(void* base, cudaDataType t, int64_t i, double v) {
  switch (t) {
    case CUDA_R_32F: static_cast<float*>(base)[i] = static_cast<float>(v); return;
    case CUDA_R_64F: static_cast<double*>(base)[i] = v; return;
    case CUDA_R_16F: static_cast<uint16_t*>(base)[i] = ft::kern::f32_to_f16(static_cast<float>(v)); return;
    case CUDA_R_16BF: static_cast<uint16_t*>(base)[i] = ft::kern::f32_to_bf16(static_cast<float>(v)); return;
    default: return;
  }
}

// Elements an operand of `rows` x `cols` (column-major, leading dimension ld) touches.
size_t extent(int rows, int cols, int ld) {
  return rows == 0 || cols == 0 ? 0 : static_cast<size_t>(ld) * (cols - 1) + rows;
}

// TF32 keeps 10 explicit mantissa bits of an f32 input (round to nearest even here).
double tf32(double v) {
  const float f = static_cast<float>(v);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return v;  // inf / NaN unchanged
  u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

// cublasGemmEx's table of type combinations (the cuBLAS docs, ../shared/reference/
// cuda-libraries-reference.md 1.3): A and B share a type, C is the same or f32 for 16-bit inputs
// under 32F compute, TF32 and the other FAST modes take f32 only, 64F compute f64 only. Valid
// combinations this stand-in does not emulate (half accumulation under COMPUTE_16F, int8, the
// FAST_16F/16BF down-conversions) are refused as unsupported: ftrain never asks for them.
enum class Combo { emulated, not_emulated, invalid };
Combo combination(cublasComputeType_t ct, cudaDataType a, cudaDataType b, cudaDataType c) {
  if (a != b) return Combo::invalid;
  switch (ct) {
    case CUBLAS_COMPUTE_16F: case CUBLAS_COMPUTE_16F_PEDANTIC:
      return a == CUDA_R_16F && c == CUDA_R_16F ? Combo::not_emulated : Combo::invalid;
    case CUBLAS_COMPUTE_32F: case CUBLAS_COMPUTE_32F_PEDANTIC:
      if (a == CUDA_R_16BF || a == CUDA_R_16F) return c == a || c == CUDA_R_32F ? Combo::emulated : Combo::invalid;
      if (a == CUDA_R_32F) return c == CUDA_R_32F ? Combo::emulated : Combo::invalid;
      if (a == CUDA_R_8I) return c == CUDA_R_32F ? Combo::not_emulated : Combo::invalid;
      return Combo::invalid;
    case CUBLAS_COMPUTE_32F_FAST_TF32:
      return a == CUDA_R_32F && c == CUDA_R_32F ? Combo::emulated : Combo::invalid;
    case CUBLAS_COMPUTE_32F_FAST_16F: case CUBLAS_COMPUTE_32F_FAST_16BF:
      return a == CUDA_R_32F && c == CUDA_R_32F ? Combo::not_emulated : Combo::invalid;
    case CUBLAS_COMPUTE_64F: case CUBLAS_COMPUTE_64F_PEDANTIC:
      return a == CUDA_R_64F && c == CUDA_R_64F ? Combo::emulated : Combo::invalid;
    default: return Combo::invalid;
  }
}

// The shared core: exact column-major semantics, cuBLAS's validation, and the emulator's extent
// checks (the whole batch of every operand must lie in its allocation).
cublasStatus_t gemm_impl(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                         const void* alpha, const void* A, cudaDataType Atype, int lda, long long sa, const void* B,
                         cudaDataType Btype, int ldb, long long sb, const void* beta, void* C, cudaDataType Ctype,
                         int ldc, long long sc, int batch, cublasComputeType_t computeType) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  if (m < 0 || n < 0 || k < 0 || batch < 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < std::max(1, ta ? k : m) || ldb < std::max(1, tb ? n : k) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (combination(computeType, Atype, Btype, Ctype) != Combo::emulated) return CUBLAS_STATUS_NOT_SUPPORTED;
  const bool f64 = computeType == CUBLAS_COMPUTE_64F || computeType == CUBLAS_COMPUTE_64F_PEDANTIC;
  const bool fast_tf32 = computeType == CUBLAS_COMPUTE_32F_FAST_TF32;
  if (batch == 0 || m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const double al = f64 ? *static_cast<const double*>(alpha) : *static_cast<const float*>(alpha);
  const double be = f64 ? *static_cast<const double*>(beta) : *static_cast<const float*>(beta);
  // Stored shapes: op(A) is m x k, so A is m x k (N) or k x m (T); likewise B.
  try {
    const auto span = [&](cudaDataType t, size_t ext, long long stride) {
      return type_size(t) * (ext + static_cast<size_t>(stride) * (batch - 1));
    };
    if (k > 0) {
      ft::cuda::check_device_range(A, span(Atype, extent(ta ? k : m, ta ? m : k, lda), sa), "cublasGemmEx operand A");
      ft::cuda::check_device_range(B, span(Btype, extent(tb ? n : k, tb ? k : n, ldb), sb), "cublasGemmEx operand B");
    }
    ft::cuda::check_device_range(C, span(Ctype, extent(m, n, ldc), sc), "cublasGemmEx operand C");
  } catch (const std::exception&) {
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  auto in = [&](const void* base, cudaDataType t, int64_t i) { return fast_tf32 ? tf32(load(base, t, i)) : load(base, t, i); };
  for (int bi = 0; bi < batch; ++bi)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        double acc = 0;
        for (int p = 0; p < k; ++p) {
          const double a = in(A, Atype, bi * sa + (ta ? static_cast<int64_t>(i) * lda + p : static_cast<int64_t>(p) * lda + i));
          const double b = in(B, Btype, bi * sb + (tb ? static_cast<int64_t>(p) * ldb + j : static_cast<int64_t>(j) * ldb + p));
          acc += a * b;
        }
        const int64_t ci = bi * sc + static_cast<int64_t>(j) * ldc + i;
        // beta == 0 ignores C entirely (NaN included), as cuBLAS does.
        store(C, Ctype, ci, al * acc + (be == 0 ? 0.0 : be * load(C, Ctype, ci)));
      }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

extern "C" {

cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

const char* CUBLASWINAPI cublasGetStatusName(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    default: return "CUBLAS_STATUS_(other)";
  }
}

const char* CUBLASWINAPI cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_INVALID_VALUE: return "an unsupported value or parameter was passed to the function";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "an operand lies outside its device allocation (emulator check)";
    default: return "other error";
  }
}

cublasStatus_t CUBLASWINAPI cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                                       cublasOperation_t transb, int m, int n, int k, const void* alpha,
                                                       const void* A, cudaDataType Atype, int lda, long long strideA,
                                                       const void* B, cudaDataType Btype, int ldb, long long strideB,
                                                       const void* beta, void* C, cudaDataType Ctype, int ldc,
                                                       long long strideC, int batchCount,
                                                       cublasComputeType_t computeType, cublasGemmAlgo_t) {
  return gemm_impl(handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C,
                   Ctype, ldc, strideC, batchCount, computeType);
}

cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m,
                                         int n, int k, const void* alpha, const void* A, cudaDataType Atype, int lda,
                                         const void* B, cudaDataType Btype, int ldb, const void* beta, void* C,
                                         cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                                         cublasGemmAlgo_t) {
  return gemm_impl(handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C, Ctype, ldc, 0, 1,
                   computeType);
}

}  // extern "C"
