// A stand-in for the parts of cuBLASLt the engine calls (kernels/cuda/blas.cpp), with cuBLASLt's
// prototypes and column-major semantics: descriptors, one heuristic result, and cublasLtMatmul with
// exactly the epilogues ftrain uses: DEFAULT, BIAS (bias[row] added to D), GELU_AUX_BIAS (D =
// gelu_tanh(h) with h = the product + bias[row], h stored to the aux matrix: cuBLASLt's GELU is the
// tanh approximation) and BGRADB (D as DEFAULT, and the bias pointer receives the reduction of op(B)
// over k, one value per column of D). Anything
// else (another epilogue, attribute, order or type combination) is refused as not supported, so a
// new use has to be emulated here before its tests can pass. Beyond cuBLASLt's own validation
// (attribute sizes, leading dimensions, matching layouts) every operand's extent, the bias vector
// and the workspace must lie inside device allocations. Products accumulate in double; outputs
// round to their type.
#include <cublasLt.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>

#include "kernels/common/half.h"
#include "kernels/cuda/runtime.h"

struct cublasLtContext {};

namespace {

struct Desc {
  int32_t compute, scale, transa = CUBLAS_OP_N, transb = CUBLAS_OP_N;
  uint32_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
  const void* bias = nullptr;
  void* aux = nullptr;
  int64_t aux_ld = 0;
};
struct Layout {
  uint32_t type;
  uint64_t rows, cols;
  int64_t ld;
};
struct Pref {
  uint64_t max_workspace = 0;
};
static_assert(sizeof(Desc) <= sizeof(cublasLtMatmulDescOpaque_t), "descriptor state must fit the opaque type");
static_assert(sizeof(Layout) <= sizeof(cublasLtMatrixLayoutOpaque_t), "layout state must fit the opaque type");
static_assert(sizeof(Pref) <= sizeof(cublasLtMatmulPreferenceOpaque_t), "preference state must fit the opaque type");

template <class S, class O>
S* state(O* o) {
  return reinterpret_cast<S*>(o->data);
}

size_t type_size(uint32_t t) {
  switch (t) {
    case CUDA_R_32F: return 4;
    case CUDA_R_16F: case CUDA_R_16BF: return 2;
    default: return 0;
  }
}
double load(const void* base, uint32_t t, int64_t i) {
  switch (t) {
    case CUDA_R_32F: return static_cast<const float*>(base)[i];
    case CUDA_R_16F: return ft::kern::f16_to_f32(static_cast<const uint16_t*>(base)[i]);
    default: return ft::kern::bf16_to_f32(static_cast<const uint16_t*>(base)[i]);
  }
}
void store(void* base, uint32_t t, int64_t i, double v) {
  switch (t) {
    case CUDA_R_32F: static_cast<float*>(base)[i] = static_cast<float>(v); return;
    case CUDA_R_16F: static_cast<uint16_t*>(base)[i] = ft::kern::f32_to_f16(static_cast<float>(v)); return;
    default: static_cast<uint16_t*>(base)[i] = ft::kern::f32_to_bf16(static_cast<float>(v)); return;
  }
}
double tf32(double v) {
  const float f = static_cast<float>(v);
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7f800000u) == 0x7f800000u) return v;
  u = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

// The shape and type checks shared by the heuristic and the matmul: op(A) is m x k, op(B) k x n,
// C and D m x n with one layout; one data type, f32 scale, 32F compute (TF32 for f32 allowed).
cublasStatus_t validate(const Desc& d, const Layout& a, const Layout& b, const Layout& c, const Layout& dd,
                        uint64_t* m, uint64_t* n, uint64_t* k) {
  if (d.scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
  const bool f32 = a.type == CUDA_R_32F;
  if (!(d.compute == CUBLAS_COMPUTE_32F || (f32 && d.compute == CUBLAS_COMPUTE_32F_FAST_TF32)))
    return CUBLAS_STATUS_NOT_SUPPORTED;
  if (type_size(a.type) == 0 || b.type != a.type || c.type != a.type || dd.type != a.type)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  if (d.epilogue != CUBLASLT_EPILOGUE_DEFAULT && d.epilogue != CUBLASLT_EPILOGUE_BIAS &&
      d.epilogue != CUBLASLT_EPILOGUE_BGRADB && d.epilogue != CUBLASLT_EPILOGUE_GELU_AUX_BIAS)
    return CUBLAS_STATUS_NOT_SUPPORTED;
  if (d.epilogue != CUBLASLT_EPILOGUE_DEFAULT && !d.bias) return CUBLAS_STATUS_INVALID_VALUE;
  // The GELU aux: a pointer and a leading dimension, a multiple of 8 and at least rows(D).
  if (d.epilogue == CUBLASLT_EPILOGUE_GELU_AUX_BIAS &&
      (!d.aux || d.aux_ld % 8 != 0 || d.aux_ld < static_cast<int64_t>(dd.rows)))
    return CUBLAS_STATUS_INVALID_VALUE;
  const bool ta = d.transa != CUBLAS_OP_N, tb = d.transb != CUBLAS_OP_N;
  *m = ta ? a.cols : a.rows;
  *k = ta ? a.rows : a.cols;
  *n = tb ? b.rows : b.cols;
  const uint64_t kb = tb ? b.cols : b.rows;
  if (kb != *k || dd.rows != *m || dd.cols != *n || c.rows != dd.rows || c.cols != dd.cols || c.ld != dd.ld)
    return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}

size_t extent(const Layout& l) {
  return l.rows == 0 || l.cols == 0 ? 0 : static_cast<size_t>(l.ld) * (l.cols - 1) + l.rows;
}

}  // namespace

extern "C" {

cublasStatus_t CUBLASWINAPI cublasLtCreate(cublasLtHandle_t* h) {
  *h = new cublasLtContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t CUBLASWINAPI cublasLtDestroy(cublasLtHandle_t h) {
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
const char* CUBLASWINAPI cublasLtGetStatusName(cublasStatus_t s) { return cublasGetStatusName(s); }
const char* CUBLASWINAPI cublasLtGetStatusString(cublasStatus_t s) { return cublasGetStatusString(s); }

cublasStatus_t CUBLASWINAPI cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t compute,
                                                     cudaDataType_t scale) {
  *d = new cublasLtMatmulDescOpaque_t{};
  *state<Desc>(*d) = Desc{static_cast<int32_t>(compute), static_cast<int32_t>(scale)};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t CUBLASWINAPI cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) {
  delete d;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t CUBLASWINAPI cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr,
                                                           const void* buf, size_t size) {
  Desc& s = *state<Desc>(d);
  // cuBLASLt's rule: the size must be the attribute's storage size exactly.
  auto take = [&](auto& field) {
    if (size != sizeof(field)) return CUBLAS_STATUS_INVALID_VALUE;
    std::memcpy(&field, buf, size);
    return CUBLAS_STATUS_SUCCESS;
  };
  switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA: return take(s.transa);
    case CUBLASLT_MATMUL_DESC_TRANSB: return take(s.transb);
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return take(s.epilogue);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return take(s.bias);
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER: return take(s.aux);
    case CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD: return take(s.aux_ld);
    default: return CUBLAS_STATUS_NOT_SUPPORTED;  // not emulated: ftrain does not set it
  }
}

cublasStatus_t CUBLASWINAPI cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType type, uint64_t rows,
                                                       uint64_t cols, int64_t ld) {
  if (ld < static_cast<int64_t>(std::max<uint64_t>(1, rows))) return CUBLAS_STATUS_INVALID_VALUE;
  *l = new cublasLtMatrixLayoutOpaque_t{};
  *state<Layout>(*l) = Layout{static_cast<uint32_t>(type), rows, cols, ld};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t CUBLASWINAPI cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) {
  delete l;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p) {
  *p = new cublasLtMatmulPreferenceOpaque_t{};
  *state<Pref>(*p) = Pref{};
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) {
  delete p;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t CUBLASWINAPI cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                                 cublasLtMatmulPreferenceAttributes_t attr,
                                                                 const void* buf, size_t size) {
  if (attr != CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (size != sizeof(uint64_t)) return CUBLAS_STATUS_INVALID_VALUE;
  std::memcpy(&state<Pref>(p)->max_workspace, buf, size);
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d,
                                                           cublasLtMatrixLayout_t a, cublasLtMatrixLayout_t b,
                                                           cublasLtMatrixLayout_t c, cublasLtMatrixLayout_t dd,
                                                           cublasLtMatmulPreference_t, int requested,
                                                           cublasLtMatmulHeuristicResult_t results[], int* count) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
  uint64_t m, n, k;
  const cublasStatus_t st = validate(*state<Desc>(d), *state<Layout>(a), *state<Layout>(b), *state<Layout>(c),
                                     *state<Layout>(dd), &m, &n, &k);
  *count = 0;
  if (st != CUBLAS_STATUS_SUCCESS) return st;
  results[0] = cublasLtMatmulHeuristicResult_t{};
  results[0].state = CUBLAS_STATUS_SUCCESS;
  results[0].wavesCount = 1;
  *count = 1;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t CUBLASWINAPI cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t desc, const void* alpha,
                                           const void* A, cublasLtMatrixLayout_t Adesc, const void* B,
                                           cublasLtMatrixLayout_t Bdesc, const void* beta, const void* C,
                                           cublasLtMatrixLayout_t Cdesc, void* D, cublasLtMatrixLayout_t Ddesc,
                                           const cublasLtMatmulAlgo_t* algo, void* workspace, size_t workspace_bytes,
                                           cudaStream_t) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!algo) return CUBLAS_STATUS_INVALID_VALUE;
  const Desc& d = *state<Desc>(desc);
  const Layout &la = *state<Layout>(Adesc), &lb = *state<Layout>(Bdesc), &lc = *state<Layout>(Cdesc),
               &ld = *state<Layout>(Ddesc);
  uint64_t m, n, k;
  if (const cublasStatus_t st = validate(d, la, lb, lc, ld, &m, &n, &k); st != CUBLAS_STATUS_SUCCESS) return st;
  const uint32_t t = la.type;
  const size_t es = type_size(t);
  try {
    if (k > 0) {
      ft::cuda::check_device_range(A, es * extent(la), "cublasLtMatmul operand A");
      ft::cuda::check_device_range(B, es * extent(lb), "cublasLtMatmul operand B");
    }
    ft::cuda::check_device_range(C, es * extent(lc), "cublasLtMatmul operand C");
    ft::cuda::check_device_range(D, es * extent(ld), "cublasLtMatmul operand D");
    // BIAS reads rows(D) values; BGRADB writes cols(D) values, in D's type.
    if (d.epilogue == CUBLASLT_EPILOGUE_BIAS || d.epilogue == CUBLASLT_EPILOGUE_GELU_AUX_BIAS)
      ft::cuda::check_device_range(d.bias, es * m, "cublasLtMatmul bias");
    if (d.epilogue == CUBLASLT_EPILOGUE_GELU_AUX_BIAS)
      ft::cuda::check_device_range(d.aux, es * (n == 0 ? 0 : d.aux_ld * (n - 1) + m), "cublasLtMatmul GELU aux");
    if (d.epilogue == CUBLASLT_EPILOGUE_BGRADB) ft::cuda::check_device_range(d.bias, es * n, "cublasLtMatmul bias grad");
    if (workspace_bytes) ft::cuda::check_device_range(workspace, workspace_bytes, "cublasLtMatmul workspace");
  } catch (const std::exception&) {
    return CUBLAS_STATUS_EXECUTION_FAILED;
  }
  const bool ta = d.transa != CUBLAS_OP_N, tb = d.transb != CUBLAS_OP_N, fast = d.compute == CUBLAS_COMPUTE_32F_FAST_TF32;
  auto in = [&](const void* base, int64_t i) { return fast ? tf32(load(base, t, i)) : load(base, t, i); };
  auto a_at = [&](uint64_t i, uint64_t p) { return in(A, ta ? static_cast<int64_t>(i * la.ld + p) : static_cast<int64_t>(p * la.ld + i)); };
  auto b_at = [&](uint64_t p, uint64_t j) { return in(B, tb ? static_cast<int64_t>(p * lb.ld + j) : static_cast<int64_t>(j * lb.ld + p)); };
  const double al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  for (uint64_t j = 0; j < n; ++j) {
    for (uint64_t i = 0; i < m; ++i) {
      double acc = 0;
      for (uint64_t p = 0; p < k; ++p) acc += a_at(i, p) * b_at(p, j);
      double v = al * acc + (be == 0 ? 0.0 : be * load(C, t, static_cast<int64_t>(j * lc.ld + i)));
      if (d.epilogue == CUBLASLT_EPILOGUE_BIAS || d.epilogue == CUBLASLT_EPILOGUE_GELU_AUX_BIAS)
        v += load(d.bias, t, static_cast<int64_t>(i));
      if (d.epilogue == CUBLASLT_EPILOGUE_GELU_AUX_BIAS) {
        store(d.aux, t, static_cast<int64_t>(j * d.aux_ld + i), v);
        v = 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
      }
      store(D, t, static_cast<int64_t>(j * ld.ld + i), v);
    }
    if (d.epilogue == CUBLASLT_EPILOGUE_BGRADB) {
      double sum = 0;
      for (uint64_t p = 0; p < k; ++p) sum += b_at(p, j);
      store(const_cast<void*>(d.bias), t, static_cast<int64_t>(j), sum);
    }
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
