// Arguments of the convolution and batch-norm backend ops over NCHW data, declared once for every
// backend (cuDNN on CUDA, oneDNN on the CPU) and for the composite definitions beside them
// (core/ops/conv.cpp: im2col + GEMM; mean, variance, normalise).
#pragma once
#include <cstdint>

#include "kernels/common/strided.h"
#include "kernels/common/unfold.h"

namespace ft::kern {

// conv2d: x [n, c, h, w] (g gives the window and output size), weight [o, c / groups, kh, kw],
// y [n, o, oh, ow]; cross-correlation, as torch's conv2d. Gradients are overwritten.
struct ConvGeom {
  UnfoldGeom g;
  int64_t out_channels = 1, groups = 1;
};

// Training-mode spatial batch norm over x [n, c, hw]: batch statistics; running_mean/var (may be
// null) move by momentum with the unbiased variance. save_mean and save_spread (c values each) keep
// what the backend's backward needs: the batch mean and, for cuDNN, the inverse std.
struct BatchNormArgs {
  int64_t n = 0, c = 0, hw = 0;
  double momentum = 0.1, eps = 1e-5;
  const void *x = nullptr, *scale = nullptr, *bias = nullptr;
  void *running_mean = nullptr, *running_var = nullptr;
  void *y = nullptr, *save_mean = nullptr, *save_spread = nullptr;
  // Backward: dy in, dx / dscale / dbias out.
  const void* dy = nullptr;
  void *dx = nullptr, *dscale = nullptr, *dbias = nullptr;
};

}  // namespace ft::kern
