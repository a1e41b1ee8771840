// f32 convolution on the CPU through oneDNN (forward, backward data, backward weights), the CPU
// backend's implementation of the conv2d op (core/ops/conv.cpp keeps im2col + GEMM as the
// reference, selected by --conv_implementation native). Tensors stay NCHW / OIHW for the rest of
// the engine; oneDNN chooses its own (blocked) layouts and the data is reordered on the way in and
// out. Primitives are built once per geometry and cached.
#pragma once
#include "kernels/common/conv.h"

namespace ft::kern {

bool onednn_conv_available();
void onednn_conv2d_fwd(const ConvGeom& g, const float* x, const float* w, float* y);
void onednn_conv2d_bwd_data(const ConvGeom& g, const float* w, const float* dy, float* dx);
void onednn_conv2d_bwd_weight(const ConvGeom& g, const float* x, const float* dy, float* dw);

}  // namespace ft::kern
