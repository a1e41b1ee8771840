// im2col and col2im over NCHW data (kernels/common/unfold.h has the layout): the building block of
// convolution (im2col + GEMM) and pooling (im2col + a reduction over the window rows).
#pragma once
#include "kernels/common/unfold.h"

namespace ft::kern {

// cols[n, c*kh*kw, oh*ow] from x[n, c, h, w]; positions outside the image read `pad`.
template <class T>
void im2col(const T* x, const UnfoldGeom& g, T pad, T* cols);
// dx[n, c, h, w] = the sum of the cols entries that read each input (overwrites dx). A thread owns a
// whole channel plane and adds in a fixed order: bitwise deterministic for any thread count.
template <class T>
void col2im(const T* cols, const UnfoldGeom& g, T* dx);

}  // namespace ft::kern
