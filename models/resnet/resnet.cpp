#include "models/resnet/resnet.h"

#include <cmath>
#include <map>
#include <set>

#include "core/autograd.h"
#include "core/ops.h"
#include "models/common/heads.h"
#include "models/common/loader.h"
#include "models/common/pretrained.h"

namespace ft::models {

ResNetConvLayer::ResNetConvLayer(int64_t in, int64_t out, int64_t kernel, int64_t stride, bool act_, Generator* gen)
    : act(act_) {
  convolution = register_module("convolution", std::make_shared<nn::Conv2d>(in, out, kernel, stride, kernel / 2, false, 1, gen));
  normalization = register_module("normalization", std::make_shared<nn::BatchNorm2d>(out));
  // transformers' _init_weights: kaiming_normal_(mode="fan_out", nonlinearity="relu").
  NoGradGuard ng;
  const double std = std::sqrt(2.0 / static_cast<double>(out * kernel * kernel));
  convolution->weight.copy_(mul(randn(convolution->weight.shape(), DType::f32, gen), std));
}

Tensor ResNetConvLayer::forward(const Tensor& x) const {
  Tensor y = normalization->forward(convolution->forward(x));
  return act ? relu(y) : y;
}

ResNetLayer::ResNetLayer(const io::ResNetConfig& c, int64_t in, int64_t out, int64_t stride, Generator* gen) {
  auto conv = [&](int64_t i, int64_t o, int64_t k, int64_t s, bool act) {
    layer.push_back(register_module("layer." + std::to_string(layer.size()),
                                    std::make_shared<ResNetConvLayer>(i, o, k, s, act, gen)));
  };
  if (in != out || stride != 1)
    shortcut = register_module("shortcut", std::make_shared<ResNetConvLayer>(in, out, 1, stride, false, gen));
  if (c.layer_type == "basic") {
    conv(in, out, 3, stride, true);
    conv(out, out, 3, 1, false);
  } else {
    const int64_t r = out / 4;  // reduction 4
    conv(in, r, 1, c.downsample_in_bottleneck ? stride : 1, true);
    conv(r, r, 3, c.downsample_in_bottleneck ? 1 : stride, true);
    conv(r, out, 1, 1, false);
  }
}

Tensor ResNetLayer::forward(const Tensor& x) const {
  Tensor h = x;
  for (const auto& l : layer) h = l->forward(h);
  return relu(add(h, shortcut ? shortcut->forward(x) : x));
}

ResNetModel::ResNetModel(const io::ResNetConfig& c, Generator* gen) : config_(c) {
  FT_CHECK(c.hidden_act == "relu", "ResNetModel: hidden_act '", c.hidden_act, "' is not supported (relu is)");
  FT_CHECK(!c.depths.empty(), "ResNetModel: the config has no stages");
  embedder = register_module("embedder.embedder",
                             std::make_shared<ResNetConvLayer>(c.num_channels, c.embedding_size, 7, 2, true, gen));
  int64_t in = c.embedding_size;
  for (size_t s = 0; s < c.depths.size(); ++s) {
    const int64_t out = c.hidden_sizes[s], stride = s == 0 ? (c.downsample_in_first_stage ? 2 : 1) : 2;
    std::vector<std::shared_ptr<ResNetLayer>> layers;
    for (int64_t j = 0; j < c.depths[s]; ++j) {
      const std::string name = "encoder.stages." + std::to_string(s) + ".layers." + std::to_string(j);
      layers.push_back(register_module(name, std::make_shared<ResNetLayer>(c, j == 0 ? in : out, out,
                                                                           j == 0 ? stride : 1, gen)));
    }
    stages.push_back(std::move(layers));
    in = out;
  }
}

Tensor ResNetModel::forward(const Tensor& pixel_values) const {
  FT_CHECK(pixel_values.dim() == 4 && pixel_values.size(1) == config_.num_channels, "ResNetModel: pixel_values must be [batch, ",
           config_.num_channels, ", height, width], got ", shape_str(pixel_values.shape()));
  Tensor h = max_pool2d(embedder->forward(pixel_values), {3, 3}, {2, 2}, {1, 1});
  for (const auto& stage : stages)
    for (const auto& l : stage) h = l->forward(h);
  return adaptive_avg_pool2d(h, {1, 1}).reshape({h.size(0), h.size(1)});
}

ResNetForImageClassification::ResNetForImageClassification(const io::ResNetConfig& c, Generator* gen)
    : num_labels(c.labels.num_labels), problem_type(c.labels.problem_type) {
  resnet = register_module("resnet", std::make_shared<ResNetModel>(c, gen));
  classifier = register_module("classifier.1", std::make_shared<nn::Linear>(c.hidden_sizes.back(), num_labels, true, gen));
}

Tensor ResNetForImageClassification::logits(const Tensor& pixel_values) const {
  return classifier->forward(resnet->forward(pixel_values));
}

std::string ResNetForImageClassification::problem_type_for(const Tensor& labels) const {
  return models::problem_type_for(problem_type, num_labels, labels);
}

Tensor ResNetForImageClassification::loss(const Tensor& logits, const Tensor& labels) const {
  return classification_loss(logits, labels, num_labels, problem_type);
}

namespace {

// Splits "a.b.c" at dots.
std::vector<std::string> split_dots(const std::string& n) {
  std::vector<std::string> parts{""};
  for (char ch : n) {
    if (ch == '.') parts.emplace_back();
    else parts.back().push_back(ch);
  }
  return parts;
}

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

// timm/torchvision name -> Hugging Face name ("" when the name has no counterpart): conv1/bn1/fc, and
// layer{S}.{J}.conv{K}|bn{K}.X or layer{S}.{J}.downsample.{0|1}.X.
std::string hf_from_timm(const std::string& n) {
  if (n.rfind("conv1.", 0) == 0) return "resnet.embedder.embedder.convolution." + n.substr(6);
  if (n.rfind("bn1.", 0) == 0) return "resnet.embedder.embedder.normalization." + n.substr(4);
  if (n.rfind("fc.", 0) == 0) return "classifier.1." + n.substr(3);
  const std::vector<std::string> p = split_dots(n);
  if (p.size() < 4 || p[0].rfind("layer", 0) != 0 || !all_digits(p[0].substr(5)) || !all_digits(p[1])) return "";
  const std::string head = "resnet.encoder.stages." + std::to_string(std::stoll(p[0].substr(5)) - 1) + ".layers." + p[1];
  std::string rest;
  for (size_t i = 3; i < p.size(); ++i) rest += (i > 3 ? "." : "") + p[i];
  if (p[2] == "downsample" && p.size() >= 5 && (p[3] == "0" || p[3] == "1")) {
    rest = rest.substr(2);
    return head + ".shortcut." + (p[3] == "0" ? "convolution." : "normalization.") + rest;
  }
  for (const char* kind : {"conv", "bn"}) {
    const std::string k = kind;
    if (p[2].rfind(k, 0) == 0 && all_digits(p[2].substr(k.size())))
      return head + ".layer." + std::to_string(std::stoll(p[2].substr(k.size())) - 1) +
             (k == "conv" ? ".convolution." : ".normalization.") + rest;
  }
  return "";
}

std::string join(const std::vector<std::string>& v) { return name_list(v, 10); }

}  // namespace

ResNetLoadReport load_weights(ResNetForImageClassification& model, const io::SafetensorsReader& file) {
  ResNetLoadReport r;
  for (const io::TensorInfo& t : file.tensors()) r.timm = r.timm || t.name == "conv1.weight" || t.name == "fc.weight";
  LoadRules rules;
  rules.family = "ResNet";
  rules.prefixes = {"resnet."};  // a ResNetModel file has no prefix
  if (r.timm) rules.rename = hf_from_timm;
  rules.reinit_on_mismatch = {"classifier."};
  rules.include_buffers = true;  // BatchNorm's running statistics
  const LoadReport loaded = load_weights(model, file, rules);
  r.missing = loaded.missing;
  r.unexpected = loaded.unexpected;
  r.mismatched = loaded.mismatched;
  std::string mismatch_lines;
  for (size_t i = 0; i < r.mismatched.size(); ++i)
    mismatch_lines += cat("- ", r.mismatched[i], ": found shape ", shape_str(loaded.mismatched_shapes[i].first),
                          " in the checkpoint and ", shape_str(loaded.mismatched_shapes[i].second),
                          " in the model instantiated\n");
  const std::string where = file.path();
  if (!r.unexpected.empty())
    r.message += cat("Some weights of the model checkpoint at ", where,
                     " were not used when initializing ResNetForImageClassification: [", join(r.unexpected), "]\n");
  if (!r.missing.empty())
    r.message += cat("Some weights of ResNetForImageClassification were not initialized from the model checkpoint at ",
                     where, " and are newly initialized: [", join(r.missing), "]\n");
  if (!r.mismatched.empty())
    r.message += cat("Some weights of ResNetForImageClassification were not initialized from the model checkpoint at ",
                     where, " and are newly initialized because the shapes did not match:\n", mismatch_lines);
  if (!r.missing.empty() || !r.mismatched.empty())
    r.message += "You should probably TRAIN this model on a down-stream task to be able to use it for predictions and "
                 "inference.\n";
  return r;
}

void save_pretrained(const ResNetForImageClassification& model, const std::string& dir,
                     const std::string& preprocessor_dir, DType dtype) {
  io::ResNetConfig c = model.resnet->config();
  set_head_labels(c.labels, model.num_labels, model.problem_type);
  c.architectures = {"ResNetForImageClassification"};
  write_config(dir, c.to_json(), dtype);
  write_state_dict(model, dir, dtype);
  copy_files(preprocessor_dir, dir, {"preprocessor_config.json"});
}

}  // namespace ft::models
