// max_pool2d over NCHW data on the CPU, one pass per output plane: the CPU backend's implementation
// of the op (core/ops/conv.cpp keeps im2col + max as the reference). The window is read in row-major
// order with padding as -inf, the first strict maximum wins and a NaN wins and stops, exactly as the
// composite's max over the im2col rows; idx is the input element (within its plane) each output
// took, or -1 for padding. The backward adds each output's gradient to that element, plane by plane
// in output order: deterministic for any thread count.
#pragma once
#include <cstdint>

#include "kernels/common/unfold.h"

namespace ft::kern {

template <class T>
void max_pool2d_fwd(const UnfoldGeom& g, const T* x, T* y, int64_t* idx);
// dx is overwritten.
template <class T>
void max_pool2d_bwd(const UnfoldGeom& g, const T* dy, const int64_t* idx, T* dx);

}  // namespace ft::kern
