// The basic layers: Linear, Embedding, LayerNorm, Dropout, with PyTorch's parameter names and
// default initialisations, drawn from a seeded Philox generator.
#pragma once
#include "core/nn/module.h"
#include "core/ops.h"

namespace ft::nn {

class Linear : public Module {
 public:
  // weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) as torch.nn.Linear.
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr,
         DType dtype = DType::f32);
  std::string type_name() const override { return "Linear"; }
  Tensor forward(const Tensor& x) const { return linear(x, weight, bias); }
  Tensor weight, bias;
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
