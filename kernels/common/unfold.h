// The geometry of a 2-D sliding window over NCHW data (convolution, pooling) and the index math that
// im2col/col2im share on the CPU and in CUDA kernels. cols is [n, c * kh * kw, oh * ow]: row
// (ci, i, j) holds, for every output position (y, x), the input at
// (y * sh - ph + i * dh, x * sw - pw + j * dw) of channel ci, or the pad value outside the image
// (the layout of torch.nn.functional.unfold).
#pragma once
#include <cstdint>

#include "kernels/common/strided.h"

namespace ft::kern {

struct UnfoldGeom {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  int64_t oh = 1, ow = 1;  // output positions

  FT_HD int64_t rows() const { return c * kh * kw; }
  FT_HD int64_t positions() const { return oh * ow; }
  FT_HD int64_t cols_numel() const { return n * rows() * positions(); }
  FT_HD int64_t input_numel() const { return n * c * h * w; }
  // Input offset read by cols element `e` (flat index into cols), or -1 for padding.
  FT_HD int64_t source(int64_t e) const {
    const int64_t p = e % positions(), r = (e / positions()) % rows(), b = e / (positions() * rows());
    const int64_t j = r % kw, i = (r / kw) % kh, ci = r / (kw * kh);
    const int64_t y = (p / ow) * sh - ph + i * dh, x = (p % ow) * sw - pw + j * dw;
    if (y < 0 || y >= h || x < 0 || x >= w) return -1;
    return ((b * c + ci) * h + y) * w + x;
  }
};

// Output size of a window sweep: floor((in + 2 pad - dil (k - 1) - 1) / stride) + 1.
FT_HD int64_t window_out(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  return (in + 2 * pad - dil * (k - 1) - 1) / stride + 1;
}

// col2im for one input element `e` (flat NCHW index): the sum, accumulated in Acc, of every cols
// entry that reads it, in a fixed order (i, j), so the result does not depend on threads.
template <class Acc, class T, class Load>
FT_HD Acc col2im_at(const UnfoldGeom& g, int64_t e, const T* cols, Load load) {
  const int64_t x = e % g.w, y = (e / g.w) % g.h, ci = (e / (g.w * g.h)) % g.c, b = e / (g.w * g.h * g.c);
  Acc acc = 0;
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t ty = y + g.ph - i * g.dh;
    if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.oh) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t tx = x + g.pw - j * g.dw;
      if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.ow) continue;
      const int64_t row = (ci * g.kh + i) * g.kw + j, pos = (ty / g.sh) * g.ow + tx / g.sw;
      acc += static_cast<Acc>(load(cols + (b * g.rows() + row) * g.positions() + pos));
    }
  }
  return acc;
}

}  // namespace ft::kern
