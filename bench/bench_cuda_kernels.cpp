// CUDA kernel microbenchmarks (built with the real CUDA backend; run where a GPU exists). Each
// reports GB/s or GFLOP/s and the fraction of ceilings measured in the same run: device-to-device
// copy bandwidth and the FP32/BF16 cuBLAS GEMM rate at a large square size. Shapes are BERT-base
// training shapes (batch 32 x 128 tokens, hidden 768). Times are wall times around a synchronize.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "kernels/common/attention.h"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/runtime.h"

namespace {

using ft::kern::Elem;
using ft::kern::Strided;
using Clock = std::chrono::steady_clock;

struct DeviceBuffer {
  explicit DeviceBuffer(size_t bytes) : p(ft::cuda::device_malloc(bytes)), n(bytes) {
    if (!p) throw std::runtime_error("bench: out of device memory");
    ft::cuda::copy(p, std::vector<unsigned char>(bytes, 0).data(), bytes, ft::cuda::Copy::host_to_device);
  }
  ~DeviceBuffer() { ft::cuda::device_free(p); }
  void* p;
  size_t n;
};

Strided flat(int64_t n) {
  Strided v;
  v.ndim = 1;
  v.shape[0] = n;
  v.stride[0] = 1;
  return v;
}

// Runs f under manual timing (synchronize before and after each iteration).
template <class F>
void timed(benchmark::State& st, F&& f) {
  f();
  ft::cuda::synchronize();
  for (auto _ : st) {
    auto t0 = Clock::now();
    f();
    ft::cuda::synchronize();
    st.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  }
}

double g_copy_gbs = 0, g_gemm_f32 = 0, g_gemm_bf16 = 0;

void measure_ceilings() {
  const size_t bytes = size_t(1) << 30;
  DeviceBuffer a(bytes), b(bytes);
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    auto t0 = Clock::now();
    ft::cuda::copy(b.p, a.p, bytes, ft::cuda::Copy::device_to_device);
    ft::cuda::synchronize();
    best = std::max(best, 2.0 * bytes / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
  }
  g_copy_gbs = best;
  const int64_t n = 8192;
  for (Elem t : {Elem::f32, Elem::bf16}) {
    const size_t es = t == Elem::f32 ? 4 : 2;
    DeviceBuffer x(n * n * es), y(n * n * es), z(n * n * es);
    double rate = 0;
    for (int i = 0; i < 3; ++i) {
      auto t0 = Clock::now();
      ft::cuda::gemm(t, false, false, n, n, n, 1.0, x.p, n, y.p, n, 0.0, z.p, n);
      ft::cuda::synchronize();
      rate = std::max(rate, 2.0 * n * n * n / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
    }
    (t == Elem::f32 ? g_gemm_f32 : g_gemm_bf16) = rate;
  }
  std::fprintf(stderr, "ceilings: d2d copy %.0f GB/s, cuBLAS sgemm %.0f GFLOP/s, bf16 gemm %.0f GFLOP/s\n", g_copy_gbs,
               g_gemm_f32, g_gemm_bf16);
}

void bytes_counter(benchmark::State& st, double bytes) {
  st.counters["GB/s"] = benchmark::Counter(bytes * st.iterations() / 1e9, benchmark::Counter::kIsRate);
  st.counters["frac_copy_bw"] =
      benchmark::Counter(bytes * st.iterations() / 1e9 / g_copy_gbs, benchmark::Counter::kIsRate);
}

constexpr int64_t kTokens = 32 * 128, kHidden = 768, kInter = 3072;

void BM_cuda_gemm(benchmark::State& st) {
  const Elem t = st.range(0) ? Elem::bf16 : Elem::f32;
  const size_t es = t == Elem::f32 ? 4 : 2;
  DeviceBuffer x(kTokens * kHidden * es), w(kInter * kHidden * es), y(kTokens * kInter * es);
  timed(st, [&] { ft::cuda::gemm(t, false, true, kTokens, kInter, kHidden, 1.0, x.p, kHidden, w.p, kHidden, 0.0, y.p, kInter); });
  const double f = 2.0 * kTokens * kInter * kHidden * st.iterations();
  st.counters["GFLOP/s"] = benchmark::Counter(f / 1e9, benchmark::Counter::kIsRate);
  st.counters["frac_cublas_peak"] =
      benchmark::Counter(f / 1e9 / (t == Elem::f32 ? g_gemm_f32 : g_gemm_bf16), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_cuda_gemm)->Arg(0)->Arg(1)->UseManualTime();

// Arg 1: the second operand is a bias row broadcast over the tokens.
void BM_cuda_add(benchmark::State& st) {
  const int64_t n = kTokens * kInter;
  DeviceBuffer a(n * 4), b(n * 4), c(n * 4);
  Strided bv;
  bv.ndim = 2;
  bv.shape[0] = kTokens, bv.shape[1] = kInter;
  bv.stride[0] = st.range(0) ? 0 : kInter, bv.stride[1] = 1;
  Strided av = bv;
  av.stride[0] = kInter;
  timed(st, [&] { ft::cuda::binary(ft::kern::BinaryOp::add, 0, 0, Elem::f32, a.p, av, b.p, bv, c.p); });
  bytes_counter(st, (st.range(0) ? 2.0 : 3.0) * n * 4);
}
BENCHMARK(BM_cuda_add)->Arg(0)->Arg(1)->UseManualTime();

// Arg 1: the backward (g, x) -> dx.
void BM_cuda_gelu(benchmark::State& st) {
  const int64_t n = kTokens * kInter;
  DeviceBuffer a(n * 4), g(n * 4), c(n * 4);
  timed(st, [&] {
    if (st.range(0))
      ft::cuda::binary(ft::kern::BinaryOp::gelu_erf_grad, 0, 0, Elem::f32, g.p, flat(n), a.p, flat(n), c.p);
    else
      ft::cuda::unary(ft::kern::UnaryOp::gelu_erf, 0, 0, Elem::f32, a.p, flat(n), c.p);
  });
  bytes_counter(st, (st.range(0) ? 3.0 : 2.0) * n * 4);
}
BENCHMARK(BM_cuda_gelu)->Arg(0)->Arg(1)->UseManualTime();

// Attention-probability shape; arg 1: backward.
void BM_cuda_softmax(benchmark::State& st) {
  const int64_t rows = 32 * 12 * 128, n = 128;
  DeviceBuffer x(rows * n * 4), y(rows * n * 4), g(rows * n * 4);
  timed(st, [&] {
    if (st.range(0))
      ft::cuda::softmax_bwd(Elem::f32, g.p, y.p, rows, n, false, x.p);
    else
      ft::cuda::softmax_fwd(Elem::f32, x.p, rows, n, false, y.p);
  });
  bytes_counter(st, (st.range(0) ? 3.0 : 2.0) * rows * n * 4);
}
BENCHMARK(BM_cuda_softmax)->Arg(0)->Arg(1)->UseManualTime();

// Arg 0: forward; 1: backward; 2: fused residual add + forward.
void BM_cuda_layer_norm(benchmark::State& st) {
  const bool backward = st.range(0) == 1, fused = st.range(0) == 2;
  DeviceBuffer residual(kTokens * kHidden * 4), sum(kTokens * kHidden * 4);
  DeviceBuffer x(kTokens * kHidden * 4), y(kTokens * kHidden * 4), w(kHidden * 4), b(kHidden * 4);
  DeviceBuffer mean(kTokens * 4), rstd(kTokens * 4), dw(kHidden * 4), db(kHidden * 4);
  ft::cuda::layer_norm_fwd(Elem::f32, x.p, w.p, b.p, kTokens, kHidden, 1e-12, y.p, mean.p, rstd.p);
  timed(st, [&] {
    if (backward)
      ft::cuda::layer_norm_bwd(Elem::f32, y.p, x.p, mean.p, rstd.p, w.p, kTokens, kHidden, y.p, dw.p, db.p);
    else
      ft::cuda::layer_norm_fwd(Elem::f32, x.p, w.p, b.p, kTokens, kHidden, 1e-12, y.p, mean.p, rstd.p,
                               fused ? residual.p : nullptr, fused ? sum.p : nullptr);
  });
  bytes_counter(st, (backward || !fused ? (backward ? 3.0 : 2.0) : 4.0) * kTokens * kHidden * 4);
}
BENCHMARK(BM_cuda_layer_norm)->Arg(0)->Arg(1)->Arg(2)->UseManualTime();

void BM_cuda_cross_entropy(benchmark::State& st) {
  const int64_t rows = kTokens, classes = 2;
  DeviceBuffer z(rows * classes * 4), t(rows * 8), loss(rows * 4), lse(rows * 4), valid(rows * 4), dz(rows * classes * 4);
  DeviceBuffer scale(4);
  timed(st, [&] {
    ft::cuda::cross_entropy_fwd(Elem::f32, z.p, static_cast<const int64_t*>(t.p), rows, classes, -100, 0.0, loss.p,
                                lse.p, valid.p);
    ft::cuda::cross_entropy_bwd(Elem::f32, z.p, static_cast<const int64_t*>(t.p), lse.p, rows, classes, -100, 0.0,
                                scale.p, dz.p);
  });
  bytes_counter(st, 3.0 * rows * classes * 4);
}
BENCHMARK(BM_cuda_cross_entropy)->UseManualTime();

void BM_cuda_embedding(benchmark::State& st) {
  const int64_t vocab = 30522;
  DeviceBuffer table(vocab * kHidden * 4), ids(kTokens * 8), out(kTokens * kHidden * 4);
  const bool backward = st.range(0);
  timed(st, [&] {
    if (backward)
      ft::cuda::scatter_add_rows(Elem::f32, out.p, static_cast<const int64_t*>(ids.p), kTokens, kHidden, -1, table.p,
                                 vocab);
    else
      ft::cuda::gather_rows(table.p, vocab, static_cast<const int64_t*>(ids.p), kTokens, kHidden * 4, out.p);
  });
  bytes_counter(st, 2.0 * kTokens * kHidden * 4);
}
BENCHMARK(BM_cuda_embedding)->Arg(0)->Arg(1)->UseManualTime();

void BM_cuda_dropout(benchmark::State& st) {
  const int64_t n = kTokens * kHidden;
  DeviceBuffer x(n * 4), keep(n), y(n * 4);
  uint64_t offset = 0;
  timed(st, [&] {
    ft::cuda::dropout_mask(1, offset, 0.1, n, static_cast<uint8_t*>(keep.p));
    ft::cuda::apply_mask(Elem::f32, x.p, static_cast<const uint8_t*>(keep.p), 1 / 0.9, n, y.p);
    offset += n;
  });
  bytes_counter(st, 2.0 * n * 4 + 2.0 * n);
}
BENCHMARK(BM_cuda_dropout)->UseManualTime();

// Arg 0: column sums (the bias-gradient shape); 1: row sums; 2: row variance; 3: row max with indices.
void BM_cuda_reduce(benchmark::State& st) {
  DeviceBuffer x(kTokens * kHidden * 4), y(kTokens * 4), idx(kTokens * 8);
  timed(st, [&] {
    switch (st.range(0)) {
      case 0: ft::cuda::reduce_sum(Elem::f32, x.p, 1, kTokens, kHidden, y.p); break;
      case 1: ft::cuda::reduce_sum(Elem::f32, x.p, kTokens, kHidden, 1, y.p); break;
      case 2: ft::cuda::reduce_var(Elem::f32, x.p, kTokens, kHidden, 1, 1, y.p); break;
      default: ft::cuda::reduce_max(Elem::f32, x.p, kTokens, kHidden, 1, y.p, static_cast<int64_t*>(idx.p));
    }
  });
  bytes_counter(st, 1.0 * kTokens * kHidden * 4);
}
BENCHMARK(BM_cuda_reduce)->DenseRange(0, 3)->UseManualTime();

void BM_cuda_adamw(benchmark::State& st) {
  const int64_t n = 110'000'000;  // BERT-base parameters
  DeviceBuffer p(n * 4), g(n * 4), m(n * 4), v(n * 4);
  ft::kern::AdamWArgs a{1e-4, 0.9, 0.999, 1e-8, 0.01, 1};
  timed(st, [&] {
    ft::cuda::adamw_step(Elem::f32, p.p, g.p, m.p, v.p, n, a);
    a.step++;
  });
  bytes_counter(st, 7.0 * n * 4);
}
BENCHMARK(BM_cuda_adamw)->UseManualTime();

void BM_cuda_sgd(benchmark::State& st) {
  const int64_t n = 110'000'000;
  DeviceBuffer p(n * 4), g(n * 4), buf(n * 4);
  timed(st, [&] { ft::cuda::sgd_step(Elem::f32, p.p, g.p, buf.p, n, ft::kern::SgdArgs{1e-2, 0.9, 0.0, 1e-4, true, false}); });
  bytes_counter(st, 5.0 * n * 4);
}
BENCHMARK(BM_cuda_sgd)->UseManualTime();

// The multi-tensor AdamW the Trainer runs (one table of tensors, launches of up to 48), over BERT-base's
// parameter count split into 200 tensors.
void BM_cuda_adamw_multi(benchmark::State& st) {
  const int64_t n = 110'000'000, count = 200, each = n / count;
  DeviceBuffer p(n * 4), g(n * 4), m(n * 4), v(n * 4);
  std::vector<ft::kern::AdamWTensor> ts;
  for (int64_t i = 0; i < count; ++i) {
    auto at = [&](DeviceBuffer& b) { return static_cast<char*>(b.p) + i * each * 4; };
    ts.push_back(ft::kern::AdamWTensor{at(p), at(g), at(m), at(v), nullptr, each, 1e-4, 0.01, 1});
  }
  timed(st, [&] {
    ft::cuda::adamw_multi(Elem::f32, ts.data(), static_cast<int>(ts.size()), 0.9, 0.999, 1e-8);
    for (auto& t : ts) t.step++;
  });
  bytes_counter(st, 7.0 * n * 4);
}
BENCHMARK(BM_cuda_adamw_multi)->UseManualTime();

// The gradient norm as the Trainer computes it: one multi-tensor sum of squares, no host wait.
void BM_cuda_grad_norm(benchmark::State& st) {
  const int64_t n = 110'000'000, count = 200, each = n / count;
  DeviceBuffer g(n * 4), out(8);
  std::vector<ft::kern::TensorRef> ts;
  for (int64_t i = 0; i < count; ++i) ts.push_back(ft::kern::TensorRef{static_cast<char*>(g.p) + i * each * 4, each});
  DeviceBuffer partials(8 * ft::cuda::multi_chunks(ts.data(), count));
  timed(st, [&] {
    ft::cuda::sum_squares_multi(Elem::f32, ts.data(), count, static_cast<double*>(partials.p),
                                static_cast<double*>(out.p));
  });
  bytes_counter(st, 1.0 * n * 4);
}
BENCHMARK(BM_cuda_grad_norm)->UseManualTime();

// Flash attention (kernels/cuda/attention.cu) at BERT-base shapes: batch 32, 12 heads, head dim 64;
// args: sequence length (128, 512), pass (0 forward, 1 backward), dtype (0 f32, 1 bf16). FLOPs as
// FlashAttention's benchmark counts them: forward 4 S^2 d per head, backward 2.5 times that.
void BM_cuda_attention(benchmark::State& st) {
  const int64_t b = 32, h = 12, s = st.range(0), d = 64;
  const bool backward = st.range(1) != 0;
  const Elem t = st.range(2) ? Elem::bf16 : Elem::f32;
  const size_t es = t == Elem::f32 ? 4 : 2, bytes = static_cast<size_t>(b * h * s * d) * es;
  DeviceBuffer q(bytes), k(bytes), v(bytes), out(bytes), dout(bytes), dq(bytes), dk(bytes), dv(bytes);
  DeviceBuffer lse(static_cast<size_t>(b * h * s) * 4);
  ft::kern::AttentionArgs a;
  a.dtype = t;
  a.batch = b, a.heads = h, a.tq = s, a.tk = s, a.d = d;
  a.scale = 0.125;
  const ft::kern::AttnStrides str{h * s * d, s * d, d};
  a.q = q.p, a.k = k.p, a.v = v.p, a.qs = a.ks = a.vs = str;
  a.out = out.p, a.os = str, a.lse = lse.p;
  a.dout = dout.p, a.dos = str;
  a.dq = dq.p, a.dk = dk.p, a.dv = dv.p, a.dqs = a.dks = a.dvs = str;
  DeviceBuffer workspace(ft::cuda::attention_bwd_workspace_bytes(a));
  ft::cuda::attention_fwd(a);
  timed(st, [&] {
    if (backward) ft::cuda::attention_bwd(a, workspace.p);
    else ft::cuda::attention_fwd(a);
  });
  const double fwd = 4.0 * s * s * d * b * h, flops = (backward ? 2.5 : 1.0) * fwd * st.iterations();
  st.counters["TFLOP/s"] = benchmark::Counter(flops / 1e12, benchmark::Counter::kIsRate);
  st.counters["frac_gemm_peak"] =
      benchmark::Counter(flops / 1e9 / (t == Elem::f32 ? g_gemm_f32 : g_gemm_bf16), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_cuda_attention)->ArgsProduct({{128, 512}, {0, 1}, {0, 1}})->UseManualTime();

void BM_cuda_cast(benchmark::State& st) {
  const int64_t n = kTokens * kInter;
  DeviceBuffer a(n * 4), b(n * 2);
  timed(st, [&] { ft::cuda::copy_cast(a.p, Elem::f32, flat(n), b.p, Elem::bf16, flat(n)); });
  bytes_counter(st, 6.0 * n);
}
BENCHMARK(BM_cuda_cast)->UseManualTime();

}  // namespace

int main(int argc, char** argv) {
  if (ft::cuda::device_count() == 0) {
    std::fprintf(stderr, "ft_bench_cuda: no CUDA device\n");
    return 1;
  }
  measure_ceilings();
  // cuDNN's fused SDPA is reached through the cudnn-frontend graph API (a header library), which this
  // build does not have; the attention numbers stand beside the GEMM ceiling instead.
  std::fprintf(stderr, "cuDNN SDPA: skipped (the cudnn-frontend headers are not installed)\n");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
