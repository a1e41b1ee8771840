// Optimizer updates, elementwise, with the arithmetic of kernels/cpu/optim.cpp (torch.optim's).
#include <cmath>

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launchers.h"

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

}  // namespace

void adamw_step(Elem t, void* p, const void* g, void* m, void* v, int64_t n, const kern::AdamWArgs& a) {
  if (n == 0) return;
  const double bc1 = 1.0 - std::pow(a.beta1, static_cast<double>(a.step));
  const double bc2 = 1.0 - std::pow(a.beta2, static_cast<double>(a.step));
  on_float(t, "AdamW", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    simt::launch(adamw_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, nullptr, static_cast<T*>(p),
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
    simt::launch(sgd_kernel<T>, dim3(blocks_for(n)), dim3(kThreads), 0, nullptr, static_cast<T*>(p),
                 static_cast<const T*>(g), static_cast<T*>(buf), n, static_cast<A>(a.lr), static_cast<A>(a.momentum),
                 static_cast<A>(1.0 - a.dampening), static_cast<A>(a.weight_decay), a.weight_decay != 0,
                 a.momentum != 0, a.nesterov, a.first_step);
  });
}

}  // namespace ft::cuda
