// f32 convolution on the CPU through oneDNN (forward, backward data, backward weights), the CPU
// backend's implementation of the conv2d op (core/ops/conv.cpp keeps im2col + GEMM as the
// reference, selected by --conv_implementation native). Tensors stay NCHW / OIHW for the rest of
// the engine; oneDNN chooses its own (blocked) layouts and the data is reordered on the way in and
// out. Primitives are built once per geometry and cached.
#pragma once
#include "kernels/common/conv.h"

namespace ft::kern {

bool onednn_conv_available();
// Whether oneDNN has a kernel of this CPU's for t: f32 wherever it runs; bf16 (f32 accumulation) with
// AVX512-BF16 or AMX; otherwise the im2col path computes bf16 through f32.
bool onednn_conv_native(Elem t);
// t is f32 or bf16 (all operands in it).
void onednn_conv2d_fwd(Elem t, const ConvGeom& g, const void* x, const void* w, void* y);
void onednn_conv2d_bwd_data(Elem t, const ConvGeom& g, const void* w, const void* dy, void* dx);
void onednn_conv2d_bwd_weight(Elem t, const ConvGeom& g, const void* x, const void* dy, void* dw);

}  // namespace ft::kern
