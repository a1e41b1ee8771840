// The basic layers: Linear, Embedding, LayerNorm, Dropout, with PyTorch's parameter names and
// default initialisations, drawn from a seeded Philox generator.
#pragma once
#include "core/nn/module.h"
#include "core/ops.h"

namespace ft::nn {

// A Linear may carry a LoRA adapter (PEFT's lora.Linear, attached in place rather than by replacing
// the module: the model's typed members, its fused paths and the base parameter names stay as they
// are). With one, every forward adds lora_B(lora_A(dropout(x))) * scaling to x W^T + b; the adapter's
// parameters are the children lora_A ([r, in]) and lora_B ([out, r]), so they are named
// "<path>.lora_A.weight" and "<path>.lora_B.weight" as in PEFT's adapter files.
class Linear : public Module {
 public:
  // weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) as torch.nn.Linear.
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr,
         DType dtype = DType::f32);
  std::string type_name() const override { return "Linear"; }
  // x W^T + b, plus the adapter's update; gen draws the adapter's dropout when training.
  Tensor forward(const Tensor& x, Generator* gen = nullptr) const;
  // x W^T plus the adapter's update, without the bias: for fused ops that add the bias in their tail
  // (bias + dropout + residual + LayerNorm).
  Tensor forward_no_bias(const Tensor& x, Generator* gen = nullptr) const;
  // gelu(forward(x)): one fused GEMM + bias + GELU without an adapter; with one, the GEMM plus the
  // update, then the fused bias + GELU.
  Tensor forward_bias_gelu(const Tensor& x, GeluApprox approx, Generator* gen = nullptr) const;

  // LoRA as PEFT initialises it (init_lora_weights=True): lora_A ~ kaiming_uniform(a=sqrt(5)), which is
  // U(-1/sqrt(in), 1/sqrt(in)), lora_B = 0, in the weight's dtype and on its device. dropout applies
  // to the adapter's input only, in training.
  void add_lora(int64_t r, double scaling, double dropout, Generator* gen = nullptr);
  // Folds the adapter into the weight (W += scaling * B A, PEFT's merge_and_unload) and removes it.
  void merge_lora();
  bool has_lora() const { return lora_A != nullptr; }
  // The adapter's term for input x: lora_B(lora_A(dropout(x))) * scaling.
  Tensor lora_update(const Tensor& x, Generator* gen) const;

  Tensor weight, bias;
  std::shared_ptr<Linear> lora_A, lora_B;
  double lora_scaling = 0, lora_dropout = 0;
  // When defined, the adapter's dropout keeps the elements where this 0/1 mask (x's element count) is
  // 1 instead of drawing: how a test feeds another implementation's masks.
  Tensor lora_dropout_mask;
};

class Embedding : public Module {
 public:
  // weight ~ N(0, 1) as torch.nn.Embedding; the padding row (if any) is zero and gets no gradient.
  Embedding(int64_t num_embeddings, int64_t dim, int64_t padding_idx = -1, Generator* gen = nullptr,
            DType dtype = DType::f32);
  std::string type_name() const override { return "Embedding"; }
  Tensor forward(const Tensor& ids) const { return embedding(ids, weight, padding_idx); }
  Tensor weight;
  int64_t padding_idx;
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5, DType dtype = DType::f32);
  std::string type_name() const override { return "LayerNorm"; }
  Tensor forward(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }
  Tensor weight, bias;
  double eps;
};

// Llama's RMSNorm: weight (ones) only.
class RMSNorm : public Module {
 public:
  explicit RMSNorm(int64_t dim, double eps = 1e-6, DType dtype = DType::f32);
  std::string type_name() const override { return "LlamaRMSNorm"; }
  Tensor forward(const Tensor& x) const { return rms_norm(x, weight, eps); }
  Tensor weight;
  double eps;
};

class Conv2d : public Module {
 public:
  // weight [out, in / groups, k, k] and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as torch.nn.Conv2d.
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel, int64_t stride = 1, int64_t padding = 0,
         bool bias = true, int64_t groups = 1, Generator* gen = nullptr, DType dtype = DType::f32);
  std::string type_name() const override { return "Conv2d"; }
  Tensor forward(const Tensor& x) const {
    return conv2d(x, weight, bias, {stride, stride}, {padding, padding}, {1, 1}, groups);
  }
  Tensor weight, bias;
  int64_t stride, padding, groups;
};

// torch.nn.BatchNorm2d: weight 1, bias 0; buffers running_mean 0, running_var 1 and the i64 scalar
// num_batches_tracked, which counts training forwards.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int64_t channels, double eps = 1e-5, double momentum = 0.1, DType dtype = DType::f32);
  std::string type_name() const override { return "BatchNorm2d"; }
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.1) : p(p) {}
  std::string type_name() const override { return "Dropout"; }
  Tensor forward(const Tensor& x, Generator* gen = nullptr) const { return dropout(x, p, is_training(), gen); }
  double p;
};

}  // namespace ft::nn
