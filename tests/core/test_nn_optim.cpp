// Modules, optimizers (against hand-computed torch.optim updates), schedules, clipping.
#include <gtest/gtest.h>

#include <cmath>

#include "core/nn/layers.h"
#include "core/optim/lr_schedule.h"

namespace ft {
namespace {

std::vector<double> vals(const Tensor& t) { return t.to_vector<double>(); }

struct Block : nn::Module {
  Block()
      : dense(register_module("dense", std::make_shared<nn::Linear>(3, 2))),
        LayerNorm(register_module("LayerNorm", std::make_shared<nn::LayerNorm>(2))),
        dropout(register_module("dropout", std::make_shared<nn::Dropout>(0.1))) {}
  std::string type_name() const override { return "Block"; }
  std::shared_ptr<nn::Linear> dense;
  std::shared_ptr<nn::LayerNorm> LayerNorm;  // Hugging Face's spelling
  std::shared_ptr<nn::Dropout> dropout;
};

struct Net : nn::Module {
  Net() : emb(register_module("embeddings", std::make_shared<nn::Embedding>(5, 3, 0))) {
    for (int i = 0; i < 2; ++i) layers.push_back(register_module("layer." + std::to_string(i), std::make_shared<Block>()));
  }
  std::string type_name() const override { return "Net"; }
  std::shared_ptr<nn::Embedding> emb;
  std::vector<std::shared_ptr<Block>> layers;
};

TEST(Module, NamedParametersUseDottedStateDictNames) {
  Net net;
  std::vector<std::string> names;
  for (auto& [n, t] : net.named_parameters()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"embeddings.weight", "layer.0.dense.weight", "layer.0.dense.bias",
                                             "layer.0.LayerNorm.weight", "layer.0.LayerNorm.bias", "layer.1.dense.weight",
                                             "layer.1.dense.bias", "layer.1.LayerNorm.weight", "layer.1.LayerNorm.bias"}));
  EXPECT_TRUE(net.parameter("layer.1.dense.bias").same(net.layers[1]->dense->bias));
  EXPECT_THROW(net.parameter("layer.2.dense.bias"), Error);
  net.eval();
  EXPECT_FALSE(net.layers[1]->dropout->is_training());
  net.train();
  EXPECT_TRUE(net.layers[0]->dropout->is_training());
  for (auto& [n, t] : net.named_parameters()) EXPECT_TRUE(t.requires_grad()) << n;
}

TEST(Module, InitialisationFollowsPyTorch) {
  Generator g(1);
  nn::Linear lin(16, 8, true, &g);
  for (double v : vals(lin.weight)) EXPECT_LE(std::abs(v), 0.25);
  for (double v : vals(lin.bias)) EXPECT_LE(std::abs(v), 0.25);
  nn::Embedding emb(4, 3, 2, &g);
  EXPECT_EQ(vals(emb.weight.select(0, 2)), (std::vector<double>{0, 0, 0}));
  nn::LayerNorm ln(3);
  EXPECT_EQ(vals(ln.weight), (std::vector<double>{1, 1, 1}));
}

TEST(Optim, HuggingFaceGroupsExemptBiasesAndLayerNorm) {
  Net net;
  auto groups = optim::hf_parameter_groups(net, 1e-3, 0.01);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].names, (std::vector<std::string>{"embeddings.weight", "layer.0.dense.weight", "layer.1.dense.weight"}));
  EXPECT_EQ(groups[0].weight_decay, 0.01);
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  EXPECT_EQ(groups[1].params.size(), 6u);
}

// torch.optim.AdamW, written out for one element.
double adamw_ref(double p, const std::vector<double>& grads, double lr, double wd) {
  double m = 0, v = 0;
  for (size_t t = 1; t <= grads.size(); ++t) {
    const double g = grads[t - 1];
    p *= 1 - lr * wd;
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    const double mhat = m / (1 - std::pow(0.9, t)), vhat = v / (1 - std::pow(0.999, t));
    p -= lr * mhat / (std::sqrt(vhat) + 1e-8);
  }
  return p;
}

TEST(Optim, AdamWMatchesTheTorchUpdate) {
  Tensor p = from_vector({1.0, -2.0}, {2}, TensorOptions(DType::f64).with_requires_grad());
  Tensor skipped = from_vector({5.0}, {1}, TensorOptions(DType::f64).with_requires_grad());
  optim::AdamW opt({{{p, skipped}, 0.1, 0.01, {}}});
  const std::vector<double> g0 = {0.5, 0.25, -1.0}, g1 = {-3.0, 1e-3, 2.0};
  for (int t = 0; t < 3; ++t) {
    p.set_grad(from_vector({g0[t], g1[t]}, {2}, DType::f64));
    opt.step();
  }
  EXPECT_NEAR(vals(p)[0], adamw_ref(1.0, g0, 0.1, 0.01), 1e-12);
  EXPECT_NEAR(vals(p)[1], adamw_ref(-2.0, g1, 0.1, 0.01), 1e-12);
  EXPECT_EQ(vals(skipped)[0], 5.0);  // no gradient: untouched, as in torch
  EXPECT_EQ(opt.state_of(p)->step, 3);
  EXPECT_EQ(opt.state_of(skipped), nullptr);
}

TEST(Optim, SgdMomentumNesterovAndWeightDecay) {
  auto run = [](bool nesterov) {
    Tensor p = from_vector({1.0}, {1}, TensorOptions(DType::f64).with_requires_grad());
    optim::SGD opt({{{p}, 0.1, 0.5, {}}}, {0.9, 0.0, nesterov});
    for (double g : {1.0, 2.0}) {
      p.set_grad(from_vector({g}, {1}, DType::f64));
      opt.step();
    }
    return vals(p)[0];
  };
  // By hand: d1 = 1 + 0.5*1 = 1.5, buf = 1.5; plain: p = 1 - 0.15 = 0.85; nesterov: p = 1 - 0.1*(1.5+1.35) = 0.715.
  // Step 2 plain: d = 2 + 0.425 = 2.425, buf = 1.35 + 2.425 = 3.775, p = 0.85 - 0.3775 = 0.4725.
  // Step 2 nesterov: d = 2 + 0.3575 = 2.3575, buf = 1.35 + 2.3575 = 3.7075, p = 0.715 - 0.1*(2.3575 + 3.33675) = 0.145575.
  EXPECT_NEAR(run(false), 0.4725, 1e-12);
  EXPECT_NEAR(run(true), 0.145575, 1e-12);
  EXPECT_THROW(optim::SGD({}, {0.0, 0.0, true}), Error);
}

TEST(Optim, SchedulesFollowHuggingFace) {
  auto lin = optim::linear_schedule_with_warmup(2, 10);
  EXPECT_EQ(lin(0), 0.0);
  EXPECT_EQ(lin(1), 0.5);
  EXPECT_EQ(lin(2), 1.0);
  EXPECT_EQ(lin(6), 0.5);
  EXPECT_EQ(lin(10), 0.0);
  EXPECT_EQ(lin(12), 0.0);
  auto cosine = optim::cosine_schedule_with_warmup(0, 10);
  EXPECT_NEAR(cosine(5), 0.5, 1e-15);
  EXPECT_NEAR(cosine(10), 0.0, 1e-15);
  EXPECT_EQ(optim::constant_schedule_with_warmup(4)(2), 0.5);
  EXPECT_THROW(optim::schedule_by_name("polynomial_typo", 0, 10), Error);
  EXPECT_EQ(optim::warmup_steps_for(101, 0.1, 0), 11);
  EXPECT_EQ(optim::warmup_steps_for(101, 0.1, 3), 3);
  Tensor p = zeros({1}, TensorOptions().with_requires_grad());
  optim::AdamW opt({{{p}, 0.2, 0.0, {}}});
  optim::LrScheduler sched(opt, lin);
  EXPECT_EQ(sched.last_lr()[0], 0.0);
  sched.step();
  EXPECT_EQ(sched.last_lr()[0], 0.1);
  sched.set_last_step(6);
  EXPECT_NEAR(sched.last_lr()[0], 0.1, 1e-15);
}

TEST(Optim, ClipGradNormScalesOnlyAboveTheLimit) {
  Tensor a = zeros({1}, TensorOptions(DType::f64).with_requires_grad());
  Tensor b = zeros({1}, TensorOptions(DType::f64).with_requires_grad());
  Tensor none = zeros({1}, TensorOptions(DType::f64).with_requires_grad());
  a.set_grad(from_vector({3}, {1}, DType::f64));
  b.set_grad(from_vector({4}, {1}, DType::f64));
  EXPECT_DOUBLE_EQ(optim::clip_grad_norm({a, b, none}, 1.0), 5.0);
  EXPECT_NEAR(vals(a.grad())[0], 3 / (5 + 1e-6), 1e-15);
  EXPECT_NEAR(vals(b.grad())[0], 4 / (5 + 1e-6), 1e-15);
  EXPECT_NEAR(optim::clip_grad_norm({a, b}, 10.0), 1.0, 1e-6);
  EXPECT_NEAR(vals(b.grad())[0], 4 / (5 + 1e-6), 1e-15);  // unchanged below the limit
}

}  // namespace
}  // namespace ft
