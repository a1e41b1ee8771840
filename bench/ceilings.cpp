#include "bench/ceilings.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ft::bench {
namespace {

using Clock = std::chrono::steady_clock;
typedef float v8f __attribute__((vector_size(32)));

// 12 independent chains of 8-wide FMAs: enough to cover FMA latency on current x86 cores.
float fma_loop(long iters) {
  v8f acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = v8f{} + static_cast<float>(i) * 1e-3f;
  const v8f a = v8f{} + 0.999999f, b = v8f{} + 1e-7f;
  for (long it = 0; it < iters; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * a + b;
  float s = 0;
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 8; ++j) s += acc[i][j];
  return s;
}

// Keeps the loop's result alive so the compiler cannot drop it.
void benchmark_sink(float v) { asm volatile("" : : "r"(v) : "memory"); }

double fma_gflops(int threads) {
  const long iters = 20'000'000;
  double best = 0;
  float sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    auto t0 = Clock::now();
#pragma omp parallel num_threads(threads)
    {
      float s = fma_loop(iters);
#pragma omp atomic
      sink += s;
    }
    const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    benchmark_sink(sink);
    best = std::max(best, 2.0 * 8 * 12 * static_cast<double>(iters) * threads / sec / 1e9);
  }
  return best;
}

double copy_gbs() {
  const size_t n = size_t(64) << 20;  // 64 MiB each way: far beyond the caches
  std::vector<char> src(n, 1), dst(n, 0);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
    const int threads = omp_get_max_threads();
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      const size_t chunk = n / threads, off = t * chunk;
      std::memcpy(dst.data() + off, src.data() + off, t == threads - 1 ? n - off : chunk);
    }
    const double sec = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, 2.0 * static_cast<double>(n) / sec / 1e9);
  }
  return best;
}

}  // namespace

const Ceilings& ceilings() {
  static const Ceilings c = [] {
    Ceilings r{fma_gflops(1), fma_gflops(omp_get_max_threads()), copy_gbs()};
    std::fprintf(stderr, "ceilings: FP32 FMA %.1f GFLOP/s (1 thread), %.1f GFLOP/s (%d threads); copy %.1f GB/s\n",
                 r.fma_gflops_1t, r.fma_gflops_all, omp_get_max_threads(), r.copy_gbs);
    return r;
  }();
  return c;
}

}  // namespace ft::bench
