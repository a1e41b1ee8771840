// Golden test: the composite model of gen_core_golden.py (PyTorch) rebuilt from the fixture's
// tensors; loss, every gradient, and 5 AdamW steps (HF groups, linear warmup, clipping) compared
// tensor by tensor: max |ours - torch| / max |torch| <= 1e-5 for every tensor, in f32.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "tests/common/test_util.h"
#include "core/nn/layers.h"
#include "core/ops.h"
#include "core/optim/lr_schedule.h"
#include "io/safetensors.h"
#include "tests/common/test_device.h"

namespace ft {
namespace {

using test::rel_error;

// The device the model trains on: the CPU, or the CUDA backend (SIMT-emulated in ft_golden_emu).
const Device kDevice = test::kTestDevice;

struct Composite : nn::Module {
  Composite()
      : emb(register_module("emb", std::make_shared<nn::Embedding>(11, 8))),
        fc1(register_module("fc1", std::make_shared<nn::Linear>(8, 16))),
        ln(register_module("ln", std::make_shared<nn::LayerNorm>(16, 1e-5))),
        fc2(register_module("fc2", std::make_shared<nn::Linear>(16, 5))) {}
  std::string type_name() const override { return "Composite"; }
  Tensor forward(const Tensor& ids, const Tensor& labels) const {
    Tensor h = ln->forward(gelu(fc1->forward(emb->forward(ids))));
    return cross_entropy(fc2->forward(h).reshape({-1, 5}), labels.reshape({-1}), -100, 0.1);
  }
  std::shared_ptr<nn::Embedding> emb;
  std::shared_ptr<nn::Linear> fc1;
  std::shared_ptr<nn::LayerNorm> ln;
  std::shared_ptr<nn::Linear> fc2;
};

void expect_close(const std::string& name, const Tensor& got, const Tensor& want, double tol = 1e-5) {
  ASSERT_EQ(got.shape(), want.shape()) << name;
  const double e = rel_error(got, want);
  std::printf("[golden] %-28s relative error %.3e\n", name.c_str(), e);
  EXPECT_LE(e, tol) << name << ": relative error " << e;
}

class CoreGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    fx = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/core_composite.safetensors");
    ASSERT_TRUE(test::use_test_device());
    NoGradGuard ng;
    for (auto& [name, p] : model.named_parameters()) {
      ASSERT_TRUE(fx.tensors.count("init." + name)) << name;
      p.copy_(fx.tensors.at("init." + name));
    }
    model.to(kDevice);
  }
  Tensor t(const std::string& name) {
    EXPECT_TRUE(fx.tensors.count(name)) << "fixture has no tensor " << name;
    return fx.tensors.at(name);
  }
  Tensor input(const std::string& name) { return t(name).to(kDevice); }
  io::SafetensorsFile fx;
  Composite model;
};

TEST_F(CoreGolden, LossAndEveryGradientMatchPyTorch) {
  Tensor loss = model.forward(input("batch0.input_ids"), input("batch0.labels"));
  EXPECT_EQ(loss.device(), kDevice);
  expect_close("loss", loss, t("loss"));
  loss.backward();
  int checked = 0;
  for (auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    expect_close("grad." + name, p.grad(), t("grad." + name));
    ++checked;
  }
  EXPECT_EQ(checked, 7);
}

TEST_F(CoreGolden, FiveAdamWStepsWithWarmupAndClippingMatchPyTorch) {
  optim::AdamW opt(optim::hf_parameter_groups(model, 1e-2, 0.01));
  // The HF grouping must put exactly the biases and LayerNorm parameters in the no-decay group.
  ASSERT_EQ(opt.groups()[1].names,
            (std::vector<std::string>{"fc1.bias", "ln.weight", "ln.bias", "fc2.bias"}));
  optim::LrScheduler sched(opt, optim::linear_schedule_with_warmup(2, 10));
  auto want_losses = t("step_losses").to_vector<double>();
  auto want_norms = t("step_grad_norms").to_vector<double>();
  for (int k = 0; k < 5; ++k) {
    const std::string b = "batch" + std::to_string(k);
    Tensor loss = model.forward(input(b + ".input_ids"), input(b + ".labels"));
    loss.backward();
    const double norm = optim::clip_grad_norm(model.parameters(), 1.0);
    opt.step();
    sched.step();
    opt.zero_grad();
    EXPECT_NEAR(loss.item(), want_losses[k], 1e-5 * std::abs(want_losses[k])) << "step " << k;
    EXPECT_NEAR(norm, want_norms[k], 1e-5 * want_norms[k]) << "step " << k;
  }
  for (auto& [name, p] : model.named_parameters()) {
    EXPECT_EQ(p.device(), kDevice) << name;
    expect_close("final." + name, p, t("final." + name));
  }
}

#if defined(FT_TEST_CUDA)
// The same model in bf16 on the CUDA backend (parameters, activations and gradients in bf16; the
// kernels accumulate in f32) against the f32 PyTorch fixture. bf16 keeps 8 significant bits, so each
// stored value is off by up to 2^-9 relative and the error compounds through five layers and their
// backward: the bound is 2e-2 of each tensor's largest magnitude, about 10 bf16 ulps (measured on
// the emulator: at most 6.3e-3, for the embedding gradient).
TEST_F(CoreGolden, Bf16LossAndGradientsTrackPyTorchWithinBf16Tolerance) {
  model.to(DType::bf16);
  Tensor loss = model.forward(input("batch0.input_ids"), input("batch0.labels"));
  EXPECT_EQ(loss.dtype(), DType::bf16);
  expect_close("bf16 loss", loss, t("loss"), 2e-2);
  loss.backward();
  for (auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    expect_close("bf16 grad." + name, p.grad(), t("grad." + name), 2e-2);
  }
}
#endif

}  // namespace
}  // namespace ft
