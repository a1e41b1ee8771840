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
#include <tuple>

#include "core/error.h"

namespace ft::kern {
namespace {

GemmImpl g_impl = GemmImpl::onednn;

struct Key {
  int64_t m, n, k, lda, ldb, ldc;
  bool ta, tb;
  float alpha, beta;
  bool operator<(const Key& o) const {
    return std::tie(m, n, k, lda, ldb, ldc, ta, tb, alpha, beta) <
           std::tie(o.m, o.n, o.k, o.lda, o.ldb, o.ldc, o.ta, o.tb, o.alpha, o.beta);
  }
};

struct Entry {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, c;
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

Entry make_entry(const Key& key) {
  using dnnl::memory;
  const memory::dims a_strides = key.ta ? memory::dims{1, key.lda} : memory::dims{key.lda, 1};
  const memory::dims b_strides = key.tb ? memory::dims{1, key.ldb} : memory::dims{key.ldb, 1};
  Entry e;
  e.a = memory::desc({key.m, key.k}, memory::data_type::f32, a_strides);
  e.b = memory::desc({key.k, key.n}, memory::data_type::f32, b_strides);
  e.c = memory::desc({key.m, key.n}, memory::data_type::f32, memory::dims{key.ldc, 1});
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

void onednn_sgemm(const Key& key, const float* a, const float* b, float* c) {
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
  dnnl::memory am(e.a, engine(), const_cast<float*>(a)), bm(e.b, engine(), const_cast<float*>(b));
  dnnl::memory cm(e.c, engine(), c);
  e.prim.execute(stream, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}});
  stream.wait();
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
      return onednn_sgemm(Key{m, n, k, lda, ldb, ldc, trans_a, trans_b, alpha, beta}, a, b, c);
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

}  // namespace ft::kern
