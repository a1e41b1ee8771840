#include "kernels/cpu/attention.h"

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/cpu/indexing.h"

namespace ft::kern {
namespace {

template <class T>
struct Views {
  const AttentionArgs& a;
  const T* q(int64_t b, int64_t h, int64_t i) const { return static_cast<const T*>(a.q) + a.qs.at(b, h, i); }
  const T* k(int64_t b, int64_t h, int64_t j) const { return static_cast<const T*>(a.k) + a.ks.at(b, h, j); }
  const T* v(int64_t b, int64_t h, int64_t j) const { return static_cast<const T*>(a.v) + a.vs.at(b, h, j); }
  T mask(int64_t b, int64_t h, int64_t i, int64_t j) const {
    return a.mask ? static_cast<const T*>(a.mask)[a.mask_at(b, h, i, j)] : T(0);
  }
  // Probabilities of row (b, h, i) from its log-sum-exp: p[j] before dropout.
  void probs(int64_t b, int64_t h, int64_t i, T lse, T* p) const {
    const T* qi = q(b, h, i);
    for (int64_t j = 0; j < a.k_len(b); ++j) {
      const T* kj = k(b, h, j);
      T s = 0;
      for (int64_t c = 0; c < a.d; ++c) s += qi[c] * kj[c];
      p[j] = std::exp(s * static_cast<T>(a.scale) + mask(b, h, i, j) - lse);
    }
  }
  // The dropout factor of row (b, h, i): keep / (1 - p), or 1 without dropout.
  void drop_factors(int64_t g, int64_t i, std::vector<uint8_t>& keep, T* f) const {
    const int64_t tk = a.k_len(g / a.heads);
    if (a.dropout_p <= 0) {
      for (int64_t j = 0; j < tk; ++j) f[j] = T(1);
      return;
    }
    dropout_mask_reference(a.seed, a.offset + a.dropout_index(g, i, 0), a.dropout_p, tk, keep.data());
    const T s = static_cast<T>(1.0 / (1.0 - a.dropout_p));
    for (int64_t j = 0; j < tk; ++j) f[j] = keep[j] ? s : T(0);
  }
};

}  // namespace

template <class T>
void attention_fwd(const AttentionArgs& a) {
  const Views<T> w{a};
  const int64_t bh = a.batch * a.heads, tk = a.tk, d = a.d;
  T* lse = static_cast<T*>(a.lse);
#pragma omp parallel for collapse(2) if (bh * a.tq * tk * d > kParallelGrain)
  for (int64_t g = 0; g < bh; ++g) {
    for (int64_t i = 0; i < a.tq; ++i) {
      const int64_t b = g / a.heads, h = g % a.heads, tkb = a.k_len(b);
      T* o = static_cast<T*>(a.out) + a.os.at(b, h, i);
      if (i >= a.q_len(b)) {  // not computed: zeros
        for (int64_t c = 0; c < d; ++c) o[c] = 0;
        lse[g * a.tq + i] = 0;
        continue;
      }
      std::vector<T> s(static_cast<size_t>(tk)), f(static_cast<size_t>(tk));
      std::vector<uint8_t> keep(static_cast<size_t>(tk));
      const T* qi = w.q(b, h, i);
      T mx = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < tkb; ++j) {
        const T* kj = w.k(b, h, j);
        T acc = 0;
        for (int64_t c = 0; c < d; ++c) acc += qi[c] * kj[c];
        s[j] = acc * static_cast<T>(a.scale) + w.mask(b, h, i, j);
        mx = s[j] > mx ? s[j] : mx;
      }
      if (std::isinf(mx) && mx < 0) mx = 0;
      T l = 0;
      for (int64_t j = 0; j < tkb; ++j) l += (s[j] = std::exp(s[j] - mx));
      w.drop_factors(g, i, keep, f.data());
      for (int64_t c = 0; c < d; ++c) o[c] = 0;
      for (int64_t j = 0; j < tkb; ++j) {
        const T pj = s[j] / l * f[j];
        const T* vj = w.v(b, h, j);
        for (int64_t c = 0; c < d; ++c) o[c] += pj * vj[c];
      }
      lse[g * a.tq + i] = mx + std::log(l);
    }
  }
}

template <class T>
void attention_bwd(const AttentionArgs& a) {
  const Views<T> w{a};
  const int64_t bh = a.batch * a.heads, tq = a.tq, tk = a.tk, d = a.d;
  const T* lse = static_cast<const T*>(a.lse);
  const T scale = static_cast<T>(a.scale);
#pragma omp parallel for if (bh * tq * tk * d > kParallelGrain)
  for (int64_t g = 0; g < bh; ++g) {
    const int64_t b = g / a.heads, h = g % a.heads, tqb = a.q_len(b), tkb = a.k_len(b);
    std::vector<T> p(static_cast<size_t>(tk)), f(static_cast<size_t>(tk)), dp(static_cast<size_t>(tk));
    std::vector<T> dk(static_cast<size_t>(tk * d), T(0)), dv(static_cast<size_t>(tk * d), T(0));
    std::vector<uint8_t> keep(static_cast<size_t>(tk));
    for (int64_t i = tqb; i < tq && a.dq; ++i)  // rows not computed: zero gradients
      for (int64_t c = 0; c < d; ++c) static_cast<T*>(a.dq)[a.dqs.at(b, h, i) + c] = 0;
    for (int64_t i = 0; i < tqb; ++i) {
      w.probs(b, h, i, lse[g * tq + i], p.data());
      w.drop_factors(g, i, keep, f.data());
      const T* go = static_cast<const T*>(a.dout) + a.dos.at(b, h, i);
      T delta = 0;  // sum_j p_j dp_j, dp the gradient of the (undropped) probabilities
      for (int64_t j = 0; j < tkb; ++j) {
        const T* vj = w.v(b, h, j);
        T acc = 0;
        for (int64_t c = 0; c < d; ++c) acc += go[c] * vj[c];
        dp[j] = acc * f[j];
        delta += p[j] * dp[j];
      }
      T* dqi = a.dq ? static_cast<T*>(a.dq) + a.dqs.at(b, h, i) : nullptr;
      if (dqi)
        for (int64_t c = 0; c < d; ++c) dqi[c] = 0;
      const T* qi = w.q(b, h, i);
      for (int64_t j = 0; j < tkb; ++j) {
        const T ds = p[j] * (dp[j] - delta) * scale, pd = p[j] * f[j];
        const T* kj = w.k(b, h, j);
        for (int64_t c = 0; c < d; ++c) {
          if (dqi) dqi[c] += ds * kj[c];
          dk[j * d + c] += ds * qi[c];
          dv[j * d + c] += pd * go[c];
        }
      }
    }
    for (int64_t j = 0; j < tk; ++j)
      for (int64_t c = 0; c < d; ++c) {
        if (a.dk) static_cast<T*>(a.dk)[a.dks.at(b, h, j) + c] = dk[j * d + c];
        if (a.dv) static_cast<T*>(a.dv)[a.dvs.at(b, h, j) + c] = dv[j * d + c];
      }
  }
}

template void attention_fwd<float>(const AttentionArgs&);
template void attention_fwd<double>(const AttentionArgs&);
template void attention_bwd<float>(const AttentionArgs&);
template void attention_bwd<double>(const AttentionArgs&);

}  // namespace ft::kern
