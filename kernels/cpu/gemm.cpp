// f32 GEMM runs oneDNN's matmul primitive by default: measured on this project's 2-core Xeon at
// the BERT job's shapes (bench/bench_cpu_kernels.cpp, BM_sgemm_*), its brgemm kernels reach
// 304-355 GFLOP/s where OpenBLAS 0.3.21's sgemm reaches 291-323 (and OpenBLAS first writes
// beta * C as a separate pass). oneDNN picks its own kernels for the CPU at run time (AVX-512,
// AVX2, ...). A primitive is built once per shape and cached. OpenBLAS stays as the alternative
// (set_gemm_implementation), and f64 is a plain loop: the reference every f32 result is checked
// against.
#include "kernels/cpu/gemm.h"

#include <cblas.h>

#include <dnnl.hpp>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/onednn_engine.h"

namespace ft::kern {
namespace {

GemmImpl g_impl = GemmImpl::onednn;

struct Key {
  int64_t m, n, k, lda, ldb, ldc;
  bool ta, tb;
  float alpha, beta;
  dnnl::memory::data_type dt = dnnl::memory::data_type::f32;  // of A, B and C
  bool operator<(const Key& o) const {
    return std::tie(m, n, k, lda, ldb, ldc, ta, tb, alpha, beta, dt) <
           std::tie(o.m, o.n, o.k, o.lda, o.ldb, o.ldc, o.ta, o.tb, o.alpha, o.beta, o.dt);
  }
};

struct Entry {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, c;
};

dnnl::engine& engine() { return onednn_engine(); }

Entry make_entry(const Key& key) {
  using dnnl::memory;
  const memory::dims a_strides = key.ta ? memory::dims{1, key.lda} : memory::dims{key.lda, 1};
  const memory::dims b_strides = key.tb ? memory::dims{1, key.ldb} : memory::dims{key.ldb, 1};
  Entry e;
  e.a = memory::desc({key.m, key.k}, key.dt, a_strides);
  e.b = memory::desc({key.k, key.n}, key.dt, b_strides);
  e.c = memory::desc({key.m, key.n}, key.dt, memory::dims{key.ldc, 1});
  dnnl::primitive_attr attr;
  if (key.alpha != 1) attr.set_output_scales(0, {key.alpha});
  if (key.beta != 0) {
    dnnl::post_ops po;
    po.append_sum(key.beta);
    attr.set_post_ops(po);
  }
  e.prim = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(e.a, e.b, e.c), attr, engine()));
  return e;
}

void onednn_gemm(const Key& key, const void* a, const void* b, void* c) {
  static std::mutex mu;
  static std::map<Key, Entry> cache;
  Entry e;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it == cache.end()) {
      if (cache.size() >= 4096) cache.clear();  // shapes vary with padded lengths; bound the cache
      it = cache.emplace(key, make_entry(key)).first;
    }
    e = it->second;
  }
  thread_local dnnl::stream stream(engine());
  dnnl::memory am(e.a, engine(), const_cast<void*>(a)), bm(e.b, engine(), const_cast<void*>(b));
  dnnl::memory cm(e.c, engine(), c);
  e.prim.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  stream.wait();
}

// A stored [rows, cols] matrix with row stride ld, widened to contiguous f32.
std::vector<float> widen(Elem t, const void* x, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  Strided src, dst;
  src.ndim = dst.ndim = 2;
  src.shape[0] = dst.shape[0] = rows, src.shape[1] = dst.shape[1] = cols;
  src.stride[0] = ld, src.stride[1] = 1, dst.stride[0] = cols, dst.stride[1] = 1;
  copy_cast(x, t, src, out.data(), Elem::f32, dst);
  return out;
}

// Which low types oneDNN's matmul has a kernel for here, probed once per type.
bool probe_native(Elem t) {
  if (t != Elem::bf16) return false;  // oneDNN 2.6's f16 matmul needs AVX512-FP16; f16 widens
  try {
    using dnnl::memory;
    const memory::desc a({64, 64}, memory::data_type::bf16, memory::dims{64, 1});
    const memory::desc b({64, 64}, memory::data_type::bf16, memory::dims{1, 64});
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, a), engine());
    // oneDNN's reference ("ref:") kernels run anywhere but slower than widening to its f32 GEMM.
    return std::string(pd.impl_info_str()).rfind("ref", 0) != 0;
  } catch (const dnnl::error&) {
    return false;
  }
}

}  // namespace

void set_gemm_implementation(GemmImpl impl) { g_impl = impl; }
GemmImpl gemm_implementation() { return g_impl; }

template <>
void gemm<float>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                 const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                 int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (g_impl == GemmImpl::onednn && k > 0) {
    try {
      return onednn_gemm(Key{m, n, k, lda, ldb, ldc, trans_a, trans_b, alpha, beta}, a, b, c);
    } catch (const dnnl::error& e) {
      throw Error(cat("matmul: oneDNN failed on ", m, "x", n, "x", k, ": ", e.what()));
    }
  }
  // OpenBLAS's interface takes int: callers keep matrices below 2^31 elements per dim.
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
              static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

template <>
void gemm<double>(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                  const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                  int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const double bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        acc += av * bv;
      }
      double& out = c[i * ldc + j];
      out = alpha * acc + (beta == 0 ? 0.0 : beta * out);
    }
  }
}

bool gemm_low_native(Elem t) {
  static const bool bf16 = probe_native(Elem::bf16);
  return t == Elem::bf16 ? bf16 : false;
}

void gemm_low(Elem t, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const void* a,
              int64_t lda, const void* b, int64_t ldb, float beta, void* c, int64_t ldc) {
  FT_CHECK(t == Elem::bf16 || t == Elem::f16, "matmul: gemm_low takes bf16 or f16, got ", elem_name(t));
  if (m == 0 || n == 0) return;
  if (k > 0 && gemm_low_native(t)) {
    try {
      return onednn_gemm(Key{m, n, k, lda, ldb, ldc, trans_a, trans_b, alpha, beta, dnnl::memory::data_type::bf16},
                         a, b, c);
    } catch (const dnnl::error& e) {
      throw Error(cat("matmul: oneDNN failed on ", elem_name(t), " ", m, "x", n, "x", k, ": ", e.what()));
    }
  }
  const std::vector<float> wa = trans_a ? widen(t, a, k, m, lda) : widen(t, a, m, k, lda);
  const std::vector<float> wb = trans_b ? widen(t, b, n, k, ldb) : widen(t, b, k, n, ldb);
  std::vector<float> wc = beta != 0 ? widen(t, c, m, n, ldc) : std::vector<float>(static_cast<size_t>(m * n));
  gemm<float>(trans_a, trans_b, m, n, k, alpha, wa.data(), trans_a ? m : k, wb.data(), trans_b ? k : n, beta,
              wc.data(), n);
  Strided src, dst;
  src.ndim = dst.ndim = 2;
  src.shape[0] = dst.shape[0] = m, src.shape[1] = dst.shape[1] = n;
  src.stride[0] = n, src.stride[1] = 1, dst.stride[0] = ldc, dst.stride[1] = 1;
  copy_cast(wc.data(), Elem::f32, src, c, t, dst);
}

}  // namespace ft::kern
