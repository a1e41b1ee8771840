// Row-major GEMM through cuBLAS. A row-major C[m,n] = op(A) op(B) is the column-major product
// C^T[n,m] = op(B)^T op(A)^T, so the operands swap and each keeps its own transpose flag.
// Linear layers with a bias go through cuBLASLt, whose epilogues add the bias in the forward GEMM
// and write the bias gradient in the weight-gradient GEMM (no separate bias kernels).
// The emulated build links kernels/simt/cublas_emu.cpp and cublaslt_emu.cpp instead of libcublas
// and libcublasLt: same prototypes.
#include <cublasLt.h>
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

// One handle per host thread, destroyed with the thread (a server's worker threads come and go).
struct BlasHandle {
  cublasHandle_t h = nullptr;
  BlasHandle() {
    current_stream();  // binds the process's device to this thread before the handle is made on it
    check(cublasCreate(&h), "cublasCreate");
  }
  ~BlasHandle() { cublasDestroy(h); }
};

cublasHandle_t handle() {
  thread_local BlasHandle b;
  return b.h;
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

// ---- cuBLASLt: GEMMs with an epilogue ----

namespace {

struct LtHandle {
  cublasLtHandle_t h = nullptr;
  LtHandle() {
    current_stream();  // binds the process's device to this thread
    check(cublasLtCreate(&h), "cublasLtCreate");
  }
  ~LtHandle() { cublasLtDestroy(h); }
};

cublasLtHandle_t lt_handle() {
  thread_local LtHandle l;
  return l.h;
}

// cuBLASLt's workspace (its split-K and epilogue reductions); one per host thread, never freed.
constexpr size_t kLtWorkspace = size_t(32) << 20;
void* lt_workspace() {
  thread_local void* w = [] {
    void* p = device_malloc(kLtWorkspace);
    if (!p) throw Error("cublasLt: out of device memory for its 32 MB workspace");
    return p;
  }();
  return w;
}

template <class T>
void set(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const T& v, const char* what) {
  check(cublasLtMatmulDescSetAttribute(d, a, &v, sizeof(v)), what);
}

// Owns the descriptors of one call.
struct LtCall {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~LtCall() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (d) cublasLtMatrixLayoutDestroy(d);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }
};

// Column-major D[m, n] = op(A) op(B) with epilogue `epi` (bias: the bias input or the bias-gradient
// output). Layouts describe the matrices as stored, before op().
void lt_matmul(Elem t, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void* A, int64_t lda, const void* B,
               int64_t ldb, void* D, int64_t ldd, cublasLtEpilogue_t epi, const void* bias, void* aux = nullptr,
               int64_t aux_ld = 0) {
  const Types ty = types_for(t);
  LtCall c;
  check(cublasLtMatmulDescCreate(&c.desc, ty.compute, CUDA_R_32F), "cublasLtMatmulDescCreate");
  const int32_t op_a = ta ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  set(c.desc, CUBLASLT_MATMUL_DESC_TRANSA, op_a, "cublasLtMatmulDescSetAttribute(TRANSA)");
  set(c.desc, CUBLASLT_MATMUL_DESC_TRANSB, op_b, "cublasLtMatmulDescSetAttribute(TRANSB)");
  const uint32_t e = epi;
  set(c.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, e, "cublasLtMatmulDescSetAttribute(EPILOGUE)");
  set(c.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias, "cublasLtMatmulDescSetAttribute(BIAS_POINTER)");
  if (aux) {
    set(c.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, aux, "cublasLtMatmulDescSetAttribute(EPILOGUE_AUX_POINTER)");
    set(c.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, aux_ld, "cublasLtMatmulDescSetAttribute(EPILOGUE_AUX_LD)");
  }
  auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  check(cublasLtMatrixLayoutCreate(&c.a, ty.data, u(ta ? k : m), u(ta ? m : k), lda), "cublasLtMatrixLayoutCreate(A)");
  check(cublasLtMatrixLayoutCreate(&c.b, ty.data, u(tb ? n : k), u(tb ? k : n), ldb), "cublasLtMatrixLayoutCreate(B)");
  check(cublasLtMatrixLayoutCreate(&c.d, ty.data, u(m), u(n), ldd), "cublasLtMatrixLayoutCreate(D)");
  check(cublasLtMatmulPreferenceCreate(&c.pref), "cublasLtMatmulPreferenceCreate");
  const uint64_t ws = kLtWorkspace;
  check(cublasLtMatmulPreferenceSetAttribute(c.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)),
        "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)");
  cublasLtMatmulHeuristicResult_t algo{};
  int found = 0;
  check(cublasLtMatmulAlgoGetHeuristic(lt_handle(), c.desc, c.a, c.b, c.d, c.d, c.pref, 1, &algo, &found),
        "cublasLtMatmulAlgoGetHeuristic");
  if (found == 0)
    throw Error(cat("cublasLt: no algorithm for a ", kern::elem_name(t), " GEMM ", m, "x", n, "x", k, " with epilogue ",
                    static_cast<int>(epi)));
  const float one = 1, zero = 0;
  check(cublasLtMatmul(lt_handle(), c.desc, &one, A, c.a, B, c.b, &zero, D, c.d, D, c.d, &algo.algo, lt_workspace(),
                       kLtWorkspace, reinterpret_cast<cudaStream_t>(current_stream())),
        "cublasLtMatmul");
}

}  // namespace

void linear_bias_fwd(Elem t, const void* x, const void* w, const void* bias, int64_t m, int64_t n, int64_t k, void* y) {
  if (m == 0 || n == 0) return;
  // Row-major y[m, n] = x w^T + bias is column-major y^T[n, m] = w x^T: A = w (stored k x n, op T),
  // B = x (stored k x m, op N); the bias runs along D's rows, which are y's columns.
  lt_matmul(t, true, false, n, m, k, w, k, x, k, y, n, CUBLASLT_EPILOGUE_BIAS, bias);
}

void linear_bias_gelu_fwd(Elem t, const void* x, const void* w, const void* bias, int64_t m, int64_t n, int64_t k,
                          void* y, void* aux) {
  if (m == 0 || n == 0) return;
  if (n % 8 != 0) throw Error(cat("linear_bias_gelu: ", n, " output features; cuBLASLt's GELU aux needs a multiple of 8"));
  // As linear_bias_fwd; the aux matrix has D's layout (leading dimension n).
  lt_matmul(t, true, false, n, m, k, w, k, x, k, y, n, CUBLASLT_EPILOGUE_GELU_AUX_BIAS, bias, aux, n);
}

void linear_wgrad_bgrad(Elem t, const void* g, const void* x, int64_t m, int64_t n, int64_t k, void* dw, void* db) {
  if (m == 0 || n == 0 || k == 0) return;
  // Row-major dw[n, k] = g^T x is column-major dw^T[k, n] = x^T g: A = x (stored k x m, op N),
  // B = g (stored n x m, op T); BGRADB reduces op(B) over the product's k (= m) dimension: db[n].
  lt_matmul(t, false, true, k, n, m, x, k, g, n, dw, k, CUBLASLT_EPILOGUE_BGRADB, db);
}

}  // namespace ft::cuda
