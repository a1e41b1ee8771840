#include "core/nn/layers.h"

#include <cmath>

namespace ft::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias, Generator* gen, DType dtype) {
  // torch.nn.Linear: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(in) for the weight, and the bias
  // uses the same bound.
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  auto uniform = [&](const Shape& s) {
    NoGradGuard ng;
    return sub(mul(rand(s, dtype, gen), 2 * bound), bound);
  };
  weight = register_parameter("weight", uniform({out_features, in_features}));
  if (has_bias) bias = register_parameter("bias", uniform({out_features}));
}

Conv2d::Conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride_, int64_t padding_, bool has_bias, int64_t groups_,
               Generator* gen, DType dtype)
    : stride(stride_), padding(padding_), groups(groups_) {
  FT_CHECK(groups > 0 && in % groups == 0 && out % groups == 0, "Conv2d: ", in, " and ", out,
           " channels are not divisible by groups ", groups);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in / groups * kernel * kernel));
  auto uniform = [&](const Shape& s) {
    NoGradGuard ng;
    return sub(mul(rand(s, dtype, gen), 2 * bound), bound);
  };
  weight = register_parameter("weight", uniform({out, in / groups, kernel, kernel}));
  if (has_bias) bias = register_parameter("bias", uniform({out}));
}

BatchNorm2d::BatchNorm2d(int64_t channels, double eps_, double momentum_, DType dtype) : eps(eps_), momentum(momentum_) {
  weight = register_parameter("weight", ones({channels}, dtype));
  bias = register_parameter("bias", zeros({channels}, dtype));
  running_mean = register_buffer("running_mean", zeros({channels}, dtype));
  running_var = register_buffer("running_var", ones({channels}, dtype));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::i64));
}

Tensor BatchNorm2d::forward(const Tensor& x) const {
  if (is_training()) {
    NoGradGuard ng;
    Tensor n = num_batches_tracked;
    n.copy_(add(n.to(DType::f64), 1.0));
  }
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

Embedding::Embedding(int64_t num_embeddings, int64_t dim, int64_t padding_idx_, Generator* gen, DType dtype)
    : padding_idx(padding_idx_) {
  FT_CHECK(padding_idx < num_embeddings, "Embedding: padding_idx ", padding_idx, " out of range for ",
           num_embeddings, " embeddings");
  Tensor w = randn({num_embeddings, dim}, dtype, gen);
  if (padding_idx >= 0) w.select(0, padding_idx).fill_(0);
  weight = register_parameter("weight", w);
}

LayerNorm::LayerNorm(int64_t dim, double eps_, DType dtype) : eps(eps_) {
  weight = register_parameter("weight", ones({dim}, dtype));
  bias = register_parameter("bias", zeros({dim}, dtype));
}

RMSNorm::RMSNorm(int64_t dim, double eps_, DType dtype) : eps(eps_) { weight = register_parameter("weight", ones({dim}, dtype)); }

}  // namespace ft::nn
