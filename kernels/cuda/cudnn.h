// Convolution and batch normalisation through cuDNN's legacy API (9.x; deprecated there but present,
// ../shared/reference/cuda-libraries-reference.md section 2): NCHW tensors, cross-correlation, f32
// compute. Built only into the real CUDA backend (ft_cuda, FT_CUDNN); the emulated device has no
// cuDNN and uses our own im2col + GEMM kernels for the same ops. Algorithms come from cuDNN's
// heuristics (no timing runs), restricted to deterministic ones within a workspace budget, cached
// per shape; the math type is set from the chosen algorithm, TF32 only when matmul allows it.
#pragma once
#include <cstdint>

#include "kernels/common/strided.h"
#include "kernels/common/conv.h"

namespace ft::cuda {

using kern::Elem;

using kern::ConvGeom;  // kernels/common/conv.h

// y[n, k, oh, ow] = conv(x, w); dx and dw overwritten.
void cudnn_conv2d_fwd(Elem t, const ConvGeom& cg, const void* x, const void* w, void* y);
void cudnn_conv2d_bwd_data(Elem t, const ConvGeom& cg, const void* w, const void* dy, void* dx);
void cudnn_conv2d_bwd_filter(Elem t, const ConvGeom& cg, const void* x, const void* dy, void* dw);

// Spatial batch norm over [n, c, h, w] (f32 or f64; scale, bias and statistics of the same dtype).
// Training: batch statistics, running_mean/var (may be null) updated with momentum and the unbiased
// variance, save_mean/save_invstd written for the backward.
void cudnn_batch_norm_fwd_train(Elem t, int64_t n, int64_t c, int64_t hw, const void* x, const void* scale,
                                const void* bias, double momentum, double eps, void* running_mean, void* running_var,
                                void* y, void* save_mean, void* save_invstd);
void cudnn_batch_norm_fwd_eval(Elem t, int64_t n, int64_t c, int64_t hw, const void* x, const void* scale,
                               const void* bias, const void* mean, const void* var, double eps, void* y);
void cudnn_batch_norm_bwd(Elem t, int64_t n, int64_t c, int64_t hw, const void* x, const void* dy, const void* scale,
                          double eps, const void* save_mean, const void* save_invstd, void* dx, void* dscale,
                          void* dbias);

}  // namespace ft::cuda
