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

}  // namespace ft::nn
