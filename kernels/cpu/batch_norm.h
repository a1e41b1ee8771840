// Training-mode spatial batch norm over NCHW data on the CPU (kernels/common/conv.h, BatchNormArgs),
// one channel per task: statistics accumulated in f64 in two passes (mean, then centred squares),
// the backward's two channel sums likewise, so f32 results stay as close to the f64 reference as
// the composite (mean, var, normalise) they replace, in 3 passes over x forward and 2 backward
// instead of a dozen. save_mean / save_spread hold the batch mean and the inverse std, as cuDNN's.
// oneDNN 2.6's batch norm was 20% faster on the ResNet job but accumulates in f32: the ResNet
// golden's train-mode loss then missed its 1e-5 bound.
#pragma once
#include "kernels/common/conv.h"

namespace ft::kern {

template <class T>
void batch_norm_fwd_train(const BatchNormArgs& a);
template <class T>
void batch_norm_bwd(const BatchNormArgs& a);

}  // namespace ft::kern
