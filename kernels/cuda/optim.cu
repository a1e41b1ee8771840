// Optimizer updates, elementwise, with the arithmetic of kernels/cpu/optim.cpp (torch.optim's).
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"
#include "kernels/cuda/runtime.h"

namespace ft::cuda {
namespace {

template <class T>
__global__ void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, Acc<T> decay, Acc<T> w1, Acc<T> b2, Acc<T> w2,
                             Acc<T> step_size, Acc<T> bc2_sqrt, Acc<T> eps) {
  using A = Acc<T>;
  FT_GRID_LOOP(i, n) {
    const A pi = ld(p + i) * decay, gi = ld(g + i), mo = ld(m + i);
    const A mi = mo + w1 * (gi - mo);
    const A vi = ld(v + i) * b2 + w2 * gi * gi;
    st(m + i, mi);
    st(v + i, vi);
    st(p + i, pi - step_size * (mi / (kern::m_sqrt(vi) / bc2_sqrt + eps)));
  }
}

template <class T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, int64_t n, Acc<T> lr, Acc<T> mom, Acc<T> damp, Acc<T> wd,
                           bool use_wd, bool use_mom, bool nesterov, bool first) {
  using A = Acc<T>;
  FT_GRID_LOOP(i, n) {
    A d = ld(g + i);
    if (use_wd) d += wd * ld(p + i);
    if (use_mom) {
      const A b = first ? d : mom * ld(buf + i) + damp * d;
      st(buf + i, b);
      d = nesterov ? d + mom * b : b;
    }
    st(p + i, ld(p + i) - lr * d);
  }
}

// One row of the multi-tensor table: pointers, size, first chunk, and the per-tensor scalars that
// the host computes in double exactly as the single-tensor path does.
struct MultiEntry {
  void* p;
  const void* g;
  void* m;
  void* v;
  void* copy_bf16;
  int64_t n, first_chunk;
  double decay, step_size, bc2_sqrt;
};

// The table travels by value in the kernel's parameters (4 KB at most): no device allocation, no
// copy and no wait per step; a model with more tensors takes several launches.
constexpr int kTableSize = 48;  // 48 * 80 bytes + the other arguments < 4096
struct MultiTable {
  MultiEntry e[kTableSize];
  int count;
};

static_assert(sizeof(MultiTable) + 64 <= 4096, "AdamW's table must fit the kernel parameters");

constexpr int64_t kChunk = 4096;

template <class T>
__global__ void adamw_multi_kernel(MultiTable table, Acc<T> w1, Acc<T> b2, Acc<T> w2, Acc<T> eps, const uint8_t* ok) {
  using A = Acc<T>;
  if (ok && !*ok) return;  // a step with a non-finite loss or gradient: nothing changes
  // The entry owning this block's chunk: the last one whose first chunk is <= blockIdx.x.
  int lo = 0, hi = table.count - 1;
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (table.e[mid].first_chunk <= static_cast<int64_t>(blockIdx.x)) lo = mid;
    else hi = mid - 1;
  }
  const MultiEntry& e = table.e[lo];
  T* p = static_cast<T*>(e.p);
  const T* g = static_cast<const T*>(e.g);
  T* m = static_cast<T*>(e.m);
  T* v = static_cast<T*>(e.v);
  const A decay = static_cast<A>(e.decay), step_size = static_cast<A>(e.step_size), bc2 = static_cast<A>(e.bc2_sqrt);
  const int64_t begin = (blockIdx.x - e.first_chunk) * kChunk;
  const int64_t end = begin + kChunk < e.n ? begin + kChunk : e.n;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    const A pi = ld(p + i) * decay, gi = ld(g + i), mo = ld(m + i);
    const A mi = mo + w1 * (gi - mo);
    const A vi = ld(v + i) * b2 + w2 * gi * gi;
    st(m + i, mi);
    st(v + i, vi);
    const A out = pi - step_size * (mi / (kern::m_sqrt(vi) / bc2 + eps));
    st(p + i, out);
    if (e.copy_bf16) static_cast<__nv_bfloat16*>(e.copy_bf16)[i] = __float2bfloat16_rn(static_cast<float>(out));
  }
}

}  // namespace

void adamw_multi(Elem t, const kern::AdamWTensor* ts, int count, double beta1, double beta2, double eps,
                 const uint8_t* ok) {
  MultiTable table{};
  int64_t chunks = 0;
  auto flush = [&] {
    if (table.count == 0) return;
    if (chunks > 0x7fffffff) throw Error(cat("AdamW: ", chunks, " chunks exceed one launch"));
    on_float(t, "AdamW", [&](auto tag) {
      using T = decltype(tag);
      using A = Acc<T>;
      simt::launch(adamw_multi_kernel<T>, dim3(static_cast<unsigned>(chunks)), dim3(kThreads), 0, stream(), table,
                   static_cast<A>(1.0 - beta1), static_cast<A>(beta2), static_cast<A>(1.0 - beta2),
                   static_cast<A>(eps), ok);
    });
    table = MultiTable{};
    chunks = 0;
  };
  for (int i = 0; i < count; ++i) {
    const kern::AdamWTensor& e = ts[i];
    if (e.n == 0) continue;
    const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(e.step));
    const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(e.step));
    table.e[table.count++] = MultiEntry{e.p, e.g, e.m, e.v, e.copy_bf16, e.n, chunks, 1.0 - e.lr * e.weight_decay,
                                        e.lr / bc1, std::sqrt(bc2)};
    chunks += (e.n + kChunk - 1) / kChunk;
    if (table.count == kTableSize) flush();
  }
  flush();
}

void adamw_step(Elem t, void* p, const void* g, void* m, void* v, int64_t n, const kern::AdamWArgs& a) {
  if (n == 0) return;
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(a.step));
  on_float(t, "AdamW", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    simt::launch(adamw_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), static_cast<T*>(p),
                 static_cast<const T*>(g), static_cast<T*>(m), static_cast<T*>(v), n,
                 static_cast<A>(1.0 - a.lr * a.weight_decay), static_cast<A>(1.0 - a.beta1), static_cast<A>(a.beta2),
                 static_cast<A>(1.0 - a.beta2), static_cast<A>(a.lr / bc1), static_cast<A>(std::sqrt(bc2)),
                 static_cast<A>(a.eps));
  });
}

void sgd_step(Elem t, void* p, const void* g, void* buf, int64_t n, const kern::SgdArgs& a) {
  if (n == 0) return;
  on_float(t, "SGD", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    simt::launch(sgd_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, stream(), static_cast<T*>(p),
                 static_cast<const T*>(g), static_cast<T*>(buf), n, static_cast<A>(a.lr), static_cast<A>(a.momentum),
                 static_cast<A>(1.0 - a.dampening), static_cast<A>(a.weight_decay), a.weight_decay != 0,
                 a.momentum != 0, a.nesterov, a.first_step);
  });
}

}  // namespace ft::cuda
