// CPU kernel microbenchmarks. Each reports its throughput (GFLOP/s or GB/s of compulsory traffic)
// and the fraction of the machine's measured ceiling (bench/ceilings.cpp). Shapes are BERT-base
// ones (hidden 768, intermediate 3072, 512 tokens per batch) scaled to a 2-core machine.
#include <benchmark/benchmark.h>

#include <tuple>
#include <vector>

#include "bench/ceilings.h"
#include "core/ops.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/indexing.h"
#include "kernels/cpu/layer_norm.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cpu/unfold.h"

namespace ft {
namespace {

void report_bytes(benchmark::State& st, double bytes_per_iter) {
  const double gbs = bytes_per_iter * static_cast<double>(st.iterations());
  st.counters["GB/s"] = benchmark::Counter(gbs / 1e9, benchmark::Counter::kIsRate);
  st.counters["frac_copy_bw"] =
      benchmark::Counter(gbs / 1e9 / bench::ceilings().copy_gbs, benchmark::Counter::kIsRate);
}

void report_flops(benchmark::State& st, double flops_per_iter) {
  const double f = flops_per_iter * static_cast<double>(st.iterations());
  st.counters["GFLOP/s"] = benchmark::Counter(f / 1e9, benchmark::Counter::kIsRate);
  st.counters["frac_fma_peak"] =
      benchmark::Counter(f / 1e9 / bench::ceilings().fma_gflops_all, benchmark::Counter::kIsRate);
}

// f32 GEMM, oneDNN's matmul (the default) and OpenBLAS, at the BERT job's shapes (batch 32 x 52
// padded tokens = 1664 rows, MiniLM's 384 / 1536 features) in the three forms a linear layer runs:
// forward x W^T (NT), input gradient g W (NN), weight gradient g^T x (TN); plus BERT-base's.
void sgemm_case(benchmark::State& st, kern::GemmImpl impl) {
  const int64_t m = st.range(0), n = st.range(1), k = st.range(2), form = st.range(3);
  const bool ta = form == 2, tb = form == 0;
  Generator g(1);
  Tensor a = randn({m, k}, DType::f32, &g), b = randn({n, k}, DType::f32, &g), c = empty({m, n});
  const kern::GemmImpl saved = kern::gemm_implementation();
  kern::set_gemm_implementation(impl);
  for (auto _ : st) {
    kern::gemm<float>(ta, tb, m, n, k, 1.f, a.data<float>(), ta ? m : k, b.data<float>(), tb ? k : n, 0.f,
                      c.data<float>(), n);
    benchmark::DoNotOptimize(c.data<float>());
  }
  kern::set_gemm_implementation(saved);
  report_flops(st, 2.0 * m * n * k);
}
void BM_sgemm_onednn(benchmark::State& st) { sgemm_case(st, kern::GemmImpl::onednn); }
void BM_sgemm_openblas(benchmark::State& st) { sgemm_case(st, kern::GemmImpl::openblas); }
void sgemm_shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"m", "n", "k", "form"});
  for (auto [m, n, k] : {std::tuple{1664, 384, 384}, {1664, 1536, 384}, {1664, 384, 1536}})
    b->Args({m, n, k, 0})->Args({m, k, n, 1});
  b->Args({384, 384, 1664, 2})->Args({1536, 384, 1664, 2})->Args({384, 1536, 1664, 2});
  b->Args({512, 768, 768, 0})->Args({512, 3072, 768, 0})->Args({512, 768, 3072, 0});
  b->Unit(benchmark::kMillisecond);
}
BENCHMARK(BM_sgemm_onednn)->Apply(sgemm_shapes);
BENCHMARK(BM_sgemm_openblas)->Apply(sgemm_shapes);

void BM_add(benchmark::State& st) {
  const int64_t n = st.range(0);
  Tensor a = ones({n}), b = ones({n}), c = empty({n});
  kern::Strided v;
  v.ndim = 1, v.shape[0] = n, v.stride[0] = 1;
  for (auto _ : st) kern::binary<float>(kern::BinaryOp::add, 0, 0, a.data<float>(), v, b.data<float>(), v, c.data<float>());
  report_bytes(st, 3.0 * n * 4);
}
BENCHMARK(BM_add)->Arg(1 << 24)->Unit(benchmark::kMillisecond);

void BM_gelu(benchmark::State& st) {
  const int64_t n = st.range(0);
  Tensor a = ones({n}), c = empty({n});
  kern::Strided v;
  v.ndim = 1, v.shape[0] = n, v.stride[0] = 1;
  for (auto _ : st) kern::unary<float>(kern::UnaryOp::gelu_erf, 0, 0, a.data<float>(), v, c.data<float>());
  report_bytes(st, 2.0 * n * 4);
}
BENCHMARK(BM_gelu)->Arg(512 * 3072)->Unit(benchmark::kMillisecond);

void BM_softmax(benchmark::State& st) {
  const int64_t rows = st.range(0), n = st.range(1);
  Generator g(2);
  Tensor x = randn({rows, n}, DType::f32, &g), y = empty({rows, n});
  for (auto _ : st) kern::softmax_fwd<float>(x.data<float>(), rows, n, false, y.data<float>());
  report_bytes(st, 2.0 * rows * n * 4);
}
BENCHMARK(BM_softmax)->Args({4 * 12 * 128, 128})->Unit(benchmark::kMillisecond);

void BM_layer_norm_fwd(benchmark::State& st) {
  const int64_t rows = st.range(0), n = st.range(1);
  Generator g(3);
  Tensor x = randn({rows, n}, DType::f32, &g), w = ones({n}), b = zeros({n}), y = empty({rows, n});
  Tensor mean = empty({rows}), rstd = empty({rows});
  for (auto _ : st)
    kern::layer_norm_fwd<float>(x.data<float>(), w.data<float>(), b.data<float>(), rows, n, 1e-12, y.data<float>(),
                                mean.data<float>(), rstd.data<float>());
  report_bytes(st, 2.0 * rows * n * 4);
}
BENCHMARK(BM_layer_norm_fwd)->Args({512, 768})->Unit(benchmark::kMillisecond);

void BM_layer_norm_bwd(benchmark::State& st) {
  const int64_t rows = st.range(0), n = st.range(1);
  Generator g(4);
  Tensor x = randn({rows, n}, DType::f32, &g), gy = randn({rows, n}, DType::f32, &g), w = ones({n}), b = zeros({n});
  Tensor y = empty({rows, n}), mean = empty({rows}), rstd = empty({rows});
  Tensor dx = empty({rows, n}), dw = empty({n}), db = empty({n});
  kern::layer_norm_fwd<float>(x.data<float>(), w.data<float>(), b.data<float>(), rows, n, 1e-12, y.data<float>(),
                              mean.data<float>(), rstd.data<float>());
  for (auto _ : st)
    kern::layer_norm_bwd<float>(gy.data<float>(), x.data<float>(), mean.data<float>(), rstd.data<float>(), w.data<float>(),
                                rows, n, dx.data<float>(), dw.data<float>(), db.data<float>());
  report_bytes(st, 3.0 * rows * n * 4);  // x, dy read; dx written
}
BENCHMARK(BM_layer_norm_bwd)->Args({512, 768})->Unit(benchmark::kMillisecond);

void BM_adamw(benchmark::State& st) {
  const int64_t n = st.range(0);
  Tensor p = ones({n}), gr = ones({n}), m = zeros({n}), v = zeros({n});
  kern::AdamWArgs args{1e-3, 0.9, 0.999, 1e-8, 0.01, 1};
  for (auto _ : st) {
    kern::adamw_step<float>(p.data<float>(), gr.data<float>(), m.data<float>(), v.data<float>(), n, args);
    args.step++;
  }
  report_bytes(st, 7.0 * n * 4);  // p, m, v read and written; g read
}
BENCHMARK(BM_adamw)->Arg(1 << 23)->Unit(benchmark::kMillisecond);

void BM_cross_entropy(benchmark::State& st) {
  const int64_t rows = st.range(0), c = st.range(1);
  Generator g(5);
  Tensor z = randn({rows, c}, DType::f32, &g), loss = empty({rows}), lse = empty({rows}), dz = empty({rows, c});
  std::vector<int64_t> t(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) t[i] = i % c;
  for (auto _ : st) {
    kern::cross_entropy_fwd<float>(z.data<float>(), t.data(), rows, c, -100, 0.0, loss.data<float>(), lse.data<float>());
    kern::cross_entropy_bwd<float>(z.data<float>(), t.data(), lse.data<float>(), rows, c, -100, 0.0, 1.0 / rows,
                                   dz.data<float>());
  }
  report_bytes(st, 3.0 * rows * c * 4);
}
BENCHMARK(BM_cross_entropy)->Args({512, 30522})->Unit(benchmark::kMillisecond);


// ResNet-18 on 32x32 images, batch 64: stage-1 3x3 convolutions see [64, 64, 8, 8].
kern::UnfoldGeom resnet_geom(int64_t n, int64_t c, int64_t hw) {
  kern::UnfoldGeom g;
  g.n = n, g.c = c, g.h = g.w = hw, g.kh = g.kw = 3, g.ph = g.pw = 1, g.oh = g.ow = hw;
  return g;
}

void BM_im2col(benchmark::State& st) {
  const kern::UnfoldGeom g = resnet_geom(st.range(0), st.range(1), st.range(2));
  Tensor x = ones({g.n, g.c, g.h, g.w}), cols = empty({g.cols_numel()});
  for (auto _ : st) kern::im2col<float>(x.data<float>(), g, 0.f, cols.data<float>());
  report_bytes(st, 4.0 * static_cast<double>(g.input_numel() + g.cols_numel()));
}
BENCHMARK(BM_im2col)->Args({64, 64, 8})->Args({64, 128, 4})->Unit(benchmark::kMillisecond);

void BM_col2im(benchmark::State& st) {
  const kern::UnfoldGeom g = resnet_geom(st.range(0), st.range(1), st.range(2));
  Tensor cols = ones({g.cols_numel()}), dx = empty({g.n, g.c, g.h, g.w});
  for (auto _ : st) kern::col2im<float>(cols.data<float>(), g, dx.data<float>());
  report_bytes(st, 4.0 * static_cast<double>(g.input_numel() + g.cols_numel()));
}
BENCHMARK(BM_col2im)->Args({64, 64, 8})->Args({64, 128, 4})->Unit(benchmark::kMillisecond);

// The conv2d op (im2col, layout copy, GEMM, bias-free) forward and backward, as ResNet training runs it.
// range(3): 0 = oneDNN (the CPU default), 1 = native (im2col + GEMM, the reference).
void BM_conv2d_train(benchmark::State& st) {
  const int64_t n = st.range(0), c = st.range(1), hw = st.range(2);
  set_conv_implementation(st.range(3) == 0 ? "onednn" : "native");
  Generator g(2);
  Tensor x = randn({n, c, hw, hw}, DType::f32, &g).requires_grad_(), w = randn({c, c, 3, 3}, DType::f32, &g).requires_grad_();
  for (auto _ : st) {
    Tensor y = conv2d(x, w, Tensor(), {1, 1}, {1, 1});
    y.backward(ones(y.shape()));
    x.zero_grad(), w.zero_grad();
  }
  set_conv_implementation("auto");
  report_flops(st, 3 * 2.0 * n * c * hw * hw * c * 9);  // forward, data gradient, weight gradient
}
BENCHMARK(BM_conv2d_train)->ArgNames({"n", "c", "hw", "native"})
    ->Args({64, 64, 8, 0})->Args({64, 64, 8, 1})->Args({64, 128, 4, 0})->Args({64, 128, 4, 1})
    ->Unit(benchmark::kMillisecond);

// BERT's training-time attention (the MiniLM job: 32 sequences of 52 tokens, 12 heads of 32) on
// [b, t, h, d] projections viewed per head, dropout 0.1, forward and backward. FLOPs: 4 b h t^2 d
// forward and 2.5x that backward (flash-attention's benchmark convention).
void BM_attention_train(benchmark::State& st) {
  const int64_t b = st.range(0), t = st.range(1), h = st.range(2), d = st.range(3);
  Generator g(3);
  auto proj = [&] { return randn({b, t, h, d}, DType::f32, &g).requires_grad_(); };
  Tensor q = proj(), k = proj(), v = proj();
  Tensor mask = zeros({b, 1, 1, t});
  for (auto _ : st) {
    Tensor out = scaled_dot_product_attention(q.permute({0, 2, 1, 3}), k.permute({0, 2, 1, 3}),
                                              v.permute({0, 2, 1, 3}), mask, 0.1, true, &g);
    out.backward(ones(out.shape()));
    q.zero_grad(), k.zero_grad(), v.zero_grad();
  }
  report_flops(st, 3.5 * 4.0 * b * h * t * t * d);
}
BENCHMARK(BM_attention_train)->Args({32, 52, 12, 32})->Args({8, 128, 12, 64})->Unit(benchmark::kMillisecond);

// The fused ops of a BERT layer at the MiniLM job's shapes (1664 rows).
void BM_bias_gelu_train(benchmark::State& st) {
  const int64_t rows = st.range(0), n = st.range(1);
  Generator g(4);
  Tensor x = randn({rows, n}, DType::f32, &g).requires_grad_(), bias = randn({n}, DType::f32, &g).requires_grad_();
  for (auto _ : st) {
    Tensor y = bias_gelu(x, bias);
    y.backward(ones(y.shape()));
    x.zero_grad(), bias.zero_grad();
  }
  report_bytes(st, 5.0 * rows * n * 4);  // x, y; g, x, dx
}
BENCHMARK(BM_bias_gelu_train)->Args({1664, 1536})->Unit(benchmark::kMillisecond);

void BM_bias_dropout_add_layer_norm_train(benchmark::State& st) {
  const int64_t rows = st.range(0), n = st.range(1);
  Generator g(5);
  auto t = [&](Shape s) { return randn(s, DType::f32, &g).requires_grad_(); };
  Tensor x = t({rows, n}), r = t({rows, n}), xb = t({n}), w = t({n}), b = t({n});
  for (auto _ : st) {
    Tensor y = bias_dropout_add_layer_norm(x, xb, r, w, b, 1e-12, 0.1, true, &g);
    y.backward(ones(y.shape()));
    x.zero_grad(), r.zero_grad(), xb.zero_grad(), w.zero_grad(), b.zero_grad();
  }
  report_bytes(st, 9.0 * rows * n * 4);  // x, r, sum, y; g, sum, ds, dx (+ the mask bytes)
}
BENCHMARK(BM_bias_dropout_add_layer_norm_train)->Args({1664, 384})->Unit(benchmark::kMillisecond);

void BM_dropout_mask(benchmark::State& st) {
  const int64_t n = st.range(0);
  std::vector<uint8_t> keep(static_cast<size_t>(n));
  uint64_t offset = 0;
  for (auto _ : st) {
    kern::dropout_mask(42, offset, 0.1, n, keep.data());
    offset += static_cast<uint64_t>(n);
    benchmark::DoNotOptimize(keep.data());
  }
  report_bytes(st, static_cast<double>(n));
}
BENCHMARK(BM_dropout_mask)->Arg(1664 * 1536)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ft

int main(int argc, char** argv) {
  ft::bench::ceilings();  // measured before any benchmark, printed to stderr
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
