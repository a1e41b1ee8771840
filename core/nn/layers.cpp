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

Tensor Linear::forward(const Tensor& x, Generator* gen) const {
  Tensor y = linear(x, weight, bias);
  return lora_A ? add(y, lora_update(x, gen)) : y;
}

Tensor Linear::forward_no_bias(const Tensor& x, Generator* gen) const {
  Tensor y = linear(x, weight);
  return lora_A ? add(y, lora_update(x, gen)) : y;
}

Tensor Linear::forward_bias_gelu(const Tensor& x, GeluApprox approx, Generator* gen) const {
  if (!lora_A) return linear_bias_gelu(x, weight, bias, approx);
  return bias.defined() ? bias_gelu(forward_no_bias(x, gen), bias, approx) : gelu(forward_no_bias(x, gen), approx);
}

Tensor Linear::lora_update(const Tensor& x, Generator* gen) const {
  Tensor in = x;
  if (lora_dropout > 0 && is_training()) {
    if (lora_dropout_mask.defined()) {
      FT_CHECK(lora_dropout_mask.numel() == x.numel(), "Linear: the fed LoRA dropout mask has ",
               lora_dropout_mask.numel(), " elements for an input of ", shape_str(x.shape()));
      in = mul(mul(x, lora_dropout_mask.to(x.device()).to(x.dtype()).view(x.shape())), 1.0 / (1.0 - lora_dropout));
    } else {
      in = dropout(x, lora_dropout, true, gen);
    }
  }
  // The scaling multiplies the rank-r intermediate rather than the [.., out] result: the same value
  // up to rounding, r / out as many multiplications.
  return linear(mul(linear(in, lora_A->weight), lora_scaling), lora_B->weight);
}

void Linear::add_lora(int64_t r, double scaling, double dropout_p, Generator* gen) {
  FT_CHECK(!lora_A, "Linear: a LoRA adapter is already attached");
  FT_CHECK(r > 0, "LoRA: r must be a positive integer, got ", r);
  FT_CHECK(dropout_p >= 0 && dropout_p < 1, "LoRA: dropout must be in [0, 1), got ", dropout_p);
  const int64_t in = weight.size(1), out = weight.size(0);
  auto a = std::make_shared<Linear>(in, r, false, gen, weight.dtype());
  auto b = std::make_shared<Linear>(r, out, false, gen, weight.dtype());
  {
    NoGradGuard ng;
    b->weight.fill_(0);
  }
  a->to(weight.device());
  b->to(weight.device());
  lora_A = register_module("lora_A", a);
  lora_B = register_module("lora_B", b);
  lora_A->train(is_training());
  lora_B->train(is_training());
  lora_scaling = scaling;
  lora_dropout = dropout_p;
}

void Linear::merge_lora() {
  FT_CHECK(lora_A, "Linear: no LoRA adapter to merge");
  {
    NoGradGuard ng;
    const Tensor delta = mul(matmul(lora_B->weight.detach().to(DType::f32), lora_A->weight.detach().to(DType::f32)),
                             lora_scaling);
    Tensor w = weight;
    w.copy_(add(weight.detach().to(DType::f32), delta.to(weight.device())).to(weight.dtype()));
  }
  unregister_module("lora_A");
  unregister_module("lora_B");
  lora_A = lora_B = nullptr;
  lora_dropout_mask = Tensor();
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
