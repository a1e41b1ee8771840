// ResNet as transformers' ResNetModel / ResNetForImageClassification compute it
// (../shared/reference/hf-reference.md section 4): the embedder (7x7 stride-2 conv, BatchNorm, ReLU,
// 3x3 stride-2 max pool), stages of basic or bottleneck layers (the stride in the first layer of a
// stage, on the 3x3 conv of a bottleneck unless downsample_in_bottleneck; a 1x1 conv + BatchNorm
// shortcut where the shape changes), global average pooling and a linear classifier. Modules are
// registered under the Hugging Face names (resnet.embedder.embedder.convolution.weight,
// resnet.encoder.stages.0.layers.0.layer.1.normalization.running_mean, classifier.1.weight).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/nn/layers.h"
#include "io/config.h"
#include "io/safetensors.h"

namespace ft::models {

// ResNetConvLayer: conv (padding k/2, no bias) -> BatchNorm -> ReLU (unless act is false).
struct ResNetConvLayer : nn::Module {
  ResNetConvLayer(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool act, Generator* gen);
  std::string type_name() const override { return "ResNetConvLayer"; }
  Tensor forward(const Tensor& x) const;
  std::shared_ptr<nn::Conv2d> convolution;
  std::shared_ptr<nn::BatchNorm2d> normalization;
  bool act;
};

// A basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 with reduction 4) residual layer.
struct ResNetLayer : nn::Module {
  ResNetLayer(const io::ResNetConfig& c, int64_t in, int64_t out, int64_t stride, Generator* gen);
  std::string type_name() const override { return "ResNetLayer"; }
  Tensor forward(const Tensor& x) const;
  std::vector<std::shared_ptr<ResNetConvLayer>> layer;
  std::shared_ptr<ResNetConvLayer> shortcut;  // null: identity
};

class ResNetModel : public nn::Module {
 public:
  explicit ResNetModel(const io::ResNetConfig& config, Generator* gen = nullptr);
  std::string type_name() const override { return "ResNetModel"; }
  // pixel_values [batch, channels, h, w] -> pooled features [batch, hidden_sizes.back()].
  Tensor forward(const Tensor& pixel_values) const;
  const io::ResNetConfig& config() const { return config_; }

  std::shared_ptr<ResNetConvLayer> embedder;
  std::vector<std::vector<std::shared_ptr<ResNetLayer>>> stages;

 private:
  io::ResNetConfig config_;
};

class ResNetForImageClassification : public nn::Module {
 public:
  explicit ResNetForImageClassification(const io::ResNetConfig& config, Generator* gen = nullptr);
  std::string type_name() const override { return "ResNetForImageClassification"; }
  Tensor logits(const Tensor& pixel_values) const;
  // transformers' loss for the problem type (as BERT's): MSE, cross-entropy or BCE with logits.
  Tensor loss(const Tensor& logits, const Tensor& labels) const;
  std::string problem_type_for(const Tensor& labels) const;

  std::shared_ptr<ResNetModel> resnet;
  std::shared_ptr<nn::Linear> classifier;  // registered as "classifier.1" (index 0 is Flatten)
  int64_t num_labels;
  std::string problem_type;
};

// Loads a checkpoint by name, parameters and BatchNorm buffers: Hugging Face names with or without
// the "resnet." prefix, or timm/torchvision names (conv1, bn1, layerN.j.convK, downsample, fc),
// detected and mapped. A classifier whose size differs from the model's is left newly initialised
// and reported in transformers' words (ignore_mismatched_sizes); any other shape mismatch is an
// error naming both shapes. Returns transformers' message about missing/unexpected/mismatched
// tensors ("" when everything matched); `timm` tells which naming the file used.
struct ResNetLoadReport {
  std::vector<std::string> missing, unexpected, mismatched;
  bool timm = false;
  std::string message;
};
ResNetLoadReport load_weights(ResNetForImageClassification& model, const io::SafetensorsReader& file);

// A Hugging Face directory that transformers' ResNetForImageClassification loads: config.json
// (architectures, id2label/label2id, problem_type), model.safetensors (the state dict, BatchNorm
// buffers included) and, when given, preprocessor_config.json copied from preprocessor_dir.
void save_pretrained(const ResNetForImageClassification& model, const std::string& dir,
                     const std::string& preprocessor_dir = "", DType dtype = DType::f32);

}  // namespace ft::models
