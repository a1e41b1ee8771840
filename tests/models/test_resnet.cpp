// ResNet against transformers' ResNetForImageClassification (tests/golden/gen_resnet.py): a narrow
// basic (resnet-18-like) and a narrow bottleneck configuration, random weights with moved running
// statistics, on a 3x3x32x32 batch: eval-mode logits and loss; train-mode logits, loss, every
// parameter gradient and the BatchNorm running statistics after the step; the same checkpoint under
// timm names; a classifier of another size reported as transformers reports it. On the CPU and
// (FT_TEST_CUDA) the emulated CUDA device.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/ops.h"
#include "io/safetensors.h"
#include "models/resnet/resnet.h"
#include "tests/common/test_util.h"
#include "tests/common/test_device.h"

namespace ft::models {
namespace {

const Device kDevice = test::kTestDevice;

struct Fixture {
  io::SafetensorsFile fx;
  io::ResNetConfig config;
  std::string hf_path, timm_path;
};

// Splits the fixture into a Hugging Face-named and a timm-named checkpoint file.
Fixture load_fixture(const std::string& name) {
  Fixture f;
  f.fx = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/resnet_" + name + ".safetensors");
  f.config = io::ResNetConfig::from_json(io::Json::parse(f.fx.metadata.at("config")), name);
  std::map<std::string, Tensor> hf, timm;
  for (auto& [k, t] : f.fx.tensors) {
    if (k.rfind("w.", 0) == 0) hf[k.substr(2)] = t;
    if (k.rfind("timm.", 0) == 0) timm[k.substr(5)] = t;
  }
  const std::string dir = std::filesystem::temp_directory_path().string();
  f.hf_path = dir + "/ft_resnet_" + name + "_" + std::to_string(getpid()) + "_hf.safetensors";
  f.timm_path = dir + "/ft_resnet_" + name + "_" + std::to_string(getpid()) + "_timm.safetensors";
  io::write_safetensors(f.hf_path, hf);
  io::write_safetensors(f.timm_path, timm);
  return f;
}

class ResNetGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ResNetGolden, MatchesTransformers) {
  ASSERT_TRUE(test::use_test_device());
  const Fixture f = load_fixture(GetParam());
  ResNetForImageClassification model(f.config);
  const ResNetLoadReport report = load_weights(model, io::SafetensorsReader(f.hf_path));
  EXPECT_FALSE(report.timm);
  EXPECT_TRUE(report.missing.empty() && report.unexpected.empty() && report.mismatched.empty()) << report.message;
  model.to(kDevice);
  const Tensor x = f.fx.tensors.at("pixel_values").to(DType::f32).to(kDevice);
  const Tensor labels = f.fx.tensors.at("labels").to(kDevice);

  model.eval();
  Tensor logits = model.logits(x);
  ASSERT_EQ(logits.device(), kDevice);
  const double eval_err = test::rel_error(logits.to(kCPU), f.fx.tensors.at("eval_logits"));
  const double eval_loss_err = test::rel_error(model.loss(logits, labels).to(kCPU), f.fx.tensors.at("eval_loss"));

  model.train();
  logits = model.logits(x);
  const Tensor loss = model.loss(logits, labels);
  loss.backward();
  const double train_err = test::rel_error(logits.to(kCPU), f.fx.tensors.at("train_logits"));
  const double loss_err = test::rel_error(loss.to(kCPU), f.fx.tensors.at("train_loss"));
  double grad_err = 0, stat_err = 0;
  for (auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name << " got no gradient";
    // f32 round-off grows towards the input through every BatchNorm backward (a difference of
    // means); the bound is PyTorch's own f32 error on the same step, or 1e-4, whichever is larger.
    const Tensor& want = f.fx.tensors.at("grad." + name);
    const double e = test::rel_error(p.grad().to(kCPU), want);
    const double torch_f32 = test::rel_error(f.fx.tensors.at("grad32." + name), want);
    EXPECT_LE(e, std::max(1e-4, 2 * torch_f32)) << "grad." << name << " (PyTorch f32: " << torch_f32 << ")";
    grad_err = std::max(grad_err, e);
  }
  for (auto& [name, b] : model.named_buffers()) {
    if (name.find("running_") != std::string::npos)
      stat_err = std::max(stat_err, test::rel_error(b.to(kCPU), f.fx.tensors.at("after." + name)));
    else
      EXPECT_EQ(b.to(kCPU).item(), f.fx.tensors.at("w." + name).item() + 1) << name << " counts training forwards";
  }
  // PyTorch's own f32 train-mode logits (gen_resnet_f32.py): every BatchNorm normalises 3 images,
  // which amplifies f32 round-off in the convolutions; on "basic" PyTorch's f32 is 1.7e-5 away from
  // the f64 reference. Train-mode logits get the gradients' rule: 1e-5, or twice PyTorch's f32 error.
  const auto f32 = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/resnet_" + GetParam() + "_f32.safetensors");
  const double torch_train_f32 = test::rel_error(f32.tensors.at("train_logits32"), f.fx.tensors.at("train_logits"));
  std::printf("[golden] resnet %s: eval logits %.2e loss %.2e; train logits %.2e (PyTorch f32 %.2e) loss %.2e; "
              "grads %.2e; running stats %.2e\n", GetParam().c_str(), eval_err, eval_loss_err, train_err,
              torch_train_f32, loss_err, grad_err, stat_err);
  // f32 against an f64 reference of the same f32 weights.
  EXPECT_LE(eval_err, 1e-5);
  EXPECT_LE(eval_loss_err, 1e-5);
  EXPECT_LE(train_err, std::max(1e-5, 2 * torch_train_f32));
  EXPECT_LE(loss_err, 1e-5);
  EXPECT_LE(stat_err, 1e-5);

  // The timm-named copy of the checkpoint gives the same model.
  ResNetForImageClassification from_timm(f.config);
  const ResNetLoadReport tr = load_weights(from_timm, io::SafetensorsReader(f.timm_path));
  EXPECT_TRUE(tr.timm);
  EXPECT_TRUE(tr.missing.empty() && tr.unexpected.empty()) << tr.message;
  ResNetForImageClassification from_hf(f.config);
  load_weights(from_hf, io::SafetensorsReader(f.hf_path));
  from_timm.to(kDevice), from_hf.to(kDevice);
  from_timm.eval(), from_hf.eval();
  EXPECT_EQ(from_timm.logits(x).to(kCPU).to_vector<float>(), from_hf.logits(x).to(kCPU).to_vector<float>());
  std::filesystem::remove(f.hf_path);
  std::filesystem::remove(f.timm_path);
}

INSTANTIATE_TEST_SUITE_P(Configs, ResNetGolden, ::testing::Values("basic", "bottleneck"));

TEST(ResNet, NewClassifierSizeIsReportedAsTransformersDoes) {
  Fixture f = load_fixture("basic");
  io::ResNetConfig c = f.config;
  c.labels = io::LabelConfig{};
  c.labels.num_labels = 5;
  ResNetForImageClassification model(c);
  const ResNetLoadReport r = load_weights(model, io::SafetensorsReader(f.hf_path));
  EXPECT_EQ(r.mismatched, (std::vector<std::string>{"classifier.1.weight", "classifier.1.bias"}));
  EXPECT_NE(r.message.find("newly initialized because the shapes did not match:\n- classifier.1.weight: found shape "
                           "[3, 32] in the checkpoint and [5, 32] in the model instantiated"),
            std::string::npos)
      << r.message;
  std::filesystem::remove(f.hf_path);
  std::filesystem::remove(f.timm_path);
}

}  // namespace
}  // namespace ft::models
