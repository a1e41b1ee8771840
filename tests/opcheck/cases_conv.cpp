// Op cases for the sliding-window ops over NCHW tensors (core/ops/conv.cpp): im2col, conv2d (stride,
// padding, dilation, groups, bias, non-contiguous input), max/avg/adaptive pooling and batch_norm in
// training and evaluation. The references are direct loops over the definitions, not im2col.
#include <cmath>
#include <limits>

#include "tests/opcheck/harness.h"

namespace ft::opcheck {
namespace {

using Ts = std::vector<Tensor>;
using Hs = std::vector<Host>;
Input in(Shape s, Kind k = Kind::real, bool nc = false) { return Input{std::move(s), k, 0, nc, true}; }
Input fixed(Shape s, Kind k = Kind::real) { return Input{std::move(s), k, 0, false, false}; }

double at4(const Host& t, int64_t a, int64_t b, int64_t c, int64_t d) {
  return t.v[((a * t.shape[1] + b) * t.shape[2] + c) * t.shape[3] + d];
}
int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

// out[n, o, y, x] = bias[o] + sum over (ci in o's group, i, j) of w[o, ci, i, j] * x[n, g*cg + ci, y*s - p + i*d, ...].
std::function<Host(const Hs&)> conv_ref(Pair2 s, Pair2 p, Pair2 d, int64_t groups) {
  return [=](const Hs& h) {
    const Host &x = h[0], &w = h[1];
    const int64_t n = x.size(0), c = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t o = w.size(0), cg = w.size(1), kh = w.size(2), kw = w.size(3), og = o / groups;
    const int64_t oh = out_size(H, kh, s[0], p[0], d[0]), ow = out_size(W, kw, s[1], p[1], d[1]);
    (void)c;
    Host out = host_zeros({n, o, oh, ow});
    for (int64_t b = 0; b < n; ++b)
      for (int64_t oc = 0; oc < o; ++oc)
        for (int64_t y = 0; y < oh; ++y)
          for (int64_t xx = 0; xx < ow; ++xx) {
            double acc = h.size() > 2 ? h[2].v[oc] : 0.0;
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t i = 0; i < kh; ++i)
                for (int64_t j = 0; j < kw; ++j) {
                  const int64_t sy = y * s[0] - p[0] + i * d[0], sx = xx * s[1] - p[1] + j * d[1];
                  if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                  acc += at4(w, oc, ci, i, j) * at4(x, b, (oc / og) * cg + ci, sy, sx);
                }
            out.v[((b * o + oc) * oh + y) * ow + xx] = acc;
          }
    return out;
  };
}

// Pooling over windows; `avg` divides by the window size (count_include_pad) or by the real inputs.
std::function<Host(const Hs&)> pool_ref(Pair2 k, Pair2 s, Pair2 p, bool avg, bool include_pad) {
  return [=](const Hs& h) {
    const Host& x = h[0];
    const int64_t n = x.size(0), c = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t oh = out_size(H, k[0], s[0], p[0], 1), ow = out_size(W, k[1], s[1], p[1], 1);
    Host out = host_zeros({n, c, oh, ow});
    for (int64_t b = 0; b < n * c; ++b)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xx = 0; xx < ow; ++xx) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t real = 0;
          for (int64_t i = 0; i < k[0]; ++i)
            for (int64_t j = 0; j < k[1]; ++j) {
              const int64_t sy = y * s[0] - p[0] + i, sx = xx * s[1] - p[1] + j;
              if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
              const double v = x.v[(b * H + sy) * W + sx];
              best = std::max(best, v), sum += v, ++real;
            }
          out.v[(b * oh + y) * ow + xx] =
              avg ? sum / static_cast<double>(include_pad ? k[0] * k[1] : real) : best;
        }
    return out;
  };
}

Host adaptive_ref(const Host& x, int64_t oh, int64_t ow) {
  const int64_t n = x.size(0), c = x.size(1), H = x.size(2), W = x.size(3);
  Host out = host_zeros({n, c, oh, ow});
  for (int64_t b = 0; b < n * c; ++b)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        const int64_t y0 = i * H / oh, y1 = ((i + 1) * H + oh - 1) / oh, x0 = j * W / ow, x1 = ((j + 1) * W + ow - 1) / ow;
        double sum = 0;
        for (int64_t y = y0; y < y1; ++y)
          for (int64_t xx = x0; xx < x1; ++xx) sum += x.v[(b * H + y) * W + xx];
        out.v[(b * oh + i) * ow + j] = sum / static_cast<double>((y1 - y0) * (x1 - x0));
      }
  return out;
}

// Batch norm over dim 1 of [n, c, h, w]: batch statistics (biased variance) or the given running ones.
std::function<Host(const Hs&)> bn_ref(bool training, double eps) {
  return [=](const Hs& h) {
    const Host &x = h[0], &w = h[1], &bias = h[2], &rm = h[3], &rv = h[4];
    const int64_t n = x.size(0), c = x.size(1), hw = x.size(2) * x.size(3);
    Host out = host_zeros(x.shape);
    for (int64_t ch = 0; ch < c; ++ch) {
      double mu = rm.v[ch], var = rv.v[ch];
      if (training) {
        double s = 0, q = 0;
        for (int64_t b = 0; b < n; ++b)
          for (int64_t e = 0; e < hw; ++e) s += x.v[(b * c + ch) * hw + e];
        mu = s / static_cast<double>(n * hw);
        for (int64_t b = 0; b < n; ++b)
          for (int64_t e = 0; e < hw; ++e) q += std::pow(x.v[(b * c + ch) * hw + e] - mu, 2);
        var = q / static_cast<double>(n * hw);
      }
      for (int64_t b = 0; b < n; ++b)
        for (int64_t e = 0; e < hw; ++e) {
          const int64_t at = (b * c + ch) * hw + e;
          out.v[at] = (x.v[at] - mu) / std::sqrt(var + eps) * w.v[ch] + bias.v[ch];
        }
    }
    return out;
  };
}

}  // namespace

void conv_cases(std::vector<Case>& cs) {
  // im2col itself, with a non-zero pad value (what max pooling uses -inf for).
  cs.push_back({"im2col", "2x3x5x4_k3x2_s2x1_p1_pad1.5", {in({2, 3, 5, 4})},
                [](const Ts& t) { return im2col(t[0], Window2d{3, 2, 2, 1, 1, 1, 1, 1}, 1.5); },
                [](const Hs& h) {
                  const Host& x = h[0];
                  const int64_t oh = out_size(5, 3, 2, 1, 1), ow = out_size(4, 2, 1, 1, 1);
                  Host out = host_zeros({2, 3 * 3 * 2, oh * ow});
                  for (int64_t b = 0; b < 2; ++b)
                    for (int64_t r = 0; r < 18; ++r)
                      for (int64_t q = 0; q < oh * ow; ++q) {
                        const int64_t ci = r / 6, i = (r / 2) % 3, j = r % 2;
                        const int64_t sy = (q / ow) * 2 - 1 + i, sx = (q % ow) - 1 + j;
                        out.v[(b * 18 + r) * oh * ow + q] =
                            (sy < 0 || sy >= 5 || sx < 0 || sx >= 4) ? 1.5 : at4(x, b, ci, sy, sx);
                      }
                  return out;
                }});
  cs.push_back({"conv2d", "2x3x7x6_o4_k3_bias", {in({2, 3, 7, 6}), in({4, 3, 3, 3}), in({4})},
                [](const Ts& t) { return conv2d(t[0], t[1], t[2]); }, conv_ref({1, 1}, {0, 0}, {1, 1}, 1)});
  cs.push_back({"conv2d", "1x4x9x8_o6_k3x2_s2x1_p1x2_d2x1_groups2_noncontig",
                {in({1, 4, 9, 8}, Kind::real, true), in({6, 2, 3, 2})},
                [](const Ts& t) { return conv2d(t[0], t[1], Tensor(), {2, 1}, {1, 2}, {2, 1}, 2); },
                conv_ref({2, 1}, {1, 2}, {2, 1}, 2)});
  cs.push_back({"conv2d", "3x2x5x5_o3_k1_s2_frozen_weight", {in({3, 2, 5, 5}), fixed({3, 2, 1, 1}), in({3})},
                [](const Ts& t) { return conv2d(t[0], t[1], t[2], {2, 2}); }, conv_ref({2, 2}, {0, 0}, {1, 1}, 1)});
  cs.push_back({"conv2d", "2x3x8x8_o5_k7_s2_p3_stem", {in({2, 3, 8, 8}), in({5, 3, 7, 7})},
                [](const Ts& t) { return conv2d(t[0], t[1], Tensor(), {2, 2}, {3, 3}); },
                conv_ref({2, 2}, {3, 3}, {1, 1}, 1)});
  // Distinct inputs: rounded to bf16, random reals tie, and the gradient then goes to another element.
  cs.push_back({"max_pool2d", "2x3x7x6_k3_s2_p1", {in({2, 3, 7, 6}, Kind::distinct)},
                [](const Ts& t) { return max_pool2d(t[0], {3, 3}, {2, 2}, {1, 1}); },
                pool_ref({3, 3}, {2, 2}, {1, 1}, false, true)});
  cs.push_back({"max_pool2d", "1x2x6x5_k2_noncontig", {in({1, 2, 6, 5}, Kind::distinct, true)},
                [](const Ts& t) { return max_pool2d(t[0], {2, 2}); }, pool_ref({2, 2}, {2, 2}, {0, 0}, false, true)});
  cs.push_back({"avg_pool2d", "2x2x7x7_k3_s2_p1_include_pad", {in({2, 2, 7, 7})},
                [](const Ts& t) { return avg_pool2d(t[0], {3, 3}, {2, 2}, {1, 1}); },
                pool_ref({3, 3}, {2, 2}, {1, 1}, true, true)});
  cs.push_back({"avg_pool2d", "1x3x6x5_k2x3_s1_p1_exclude_pad", {in({1, 3, 6, 5})},
                [](const Ts& t) { return avg_pool2d(t[0], {2, 3}, {1, 1}, {1, 1}, false); },
                pool_ref({2, 3}, {1, 1}, {1, 1}, true, false)});
  cs.push_back({"adaptive_avg_pool2d", "2x3x5x4_to_1x1", {in({2, 3, 5, 4})},
                [](const Ts& t) { return adaptive_avg_pool2d(t[0], {1, 1}); },
                [](const Hs& h) { return adaptive_ref(h[0], 1, 1); }});
  cs.push_back({"adaptive_avg_pool2d", "1x2x6x4_to_3x2_divisible", {in({1, 2, 6, 4})},
                [](const Ts& t) { return adaptive_avg_pool2d(t[0], {3, 2}); },
                [](const Hs& h) { return adaptive_ref(h[0], 3, 2); }});
  cs.push_back({"adaptive_avg_pool2d", "1x2x7x5_to_3x2_overlapping", {in({1, 2, 7, 5}, Kind::real, true)},
                [](const Ts& t) { return adaptive_avg_pool2d(t[0], {3, 2}); },
                [](const Hs& h) { return adaptive_ref(h[0], 3, 2); }});
  cs.push_back({"batch_norm", "train_3x4x5x2", {in({3, 4, 5, 2}), in({4}), in({4}), fixed({4}), fixed({4}, Kind::positive)},
                [](const Ts& t) { return batch_norm(t[0], t[1], t[2], t[3].clone(), t[4].clone(), true, 0.1, 1e-5); },
                bn_ref(true, 1e-5)});
  cs.push_back({"batch_norm", "eval_2x3x4x4_noncontig",
                {in({2, 3, 4, 4}, Kind::real, true), in({3}), in({3}), fixed({3}), fixed({3}, Kind::positive)},
                [](const Ts& t) { return batch_norm(t[0], t[1], t[2], t[3], t[4], false, 0.1, 1e-5); },
                bn_ref(false, 1e-5)});
}

}  // namespace ft::opcheck
