// Tiny-BERT goldens (tests/golden/gen_bert_tiny.py, transformers 5.23.0 evaluated in f64): logits,
// loss and every parameter gradient for each problem type, ftrain in f32 within 1e-5 relative, on the
// CPU (ft_bert_tiny) and on the SIMT-emulated CUDA device (ft_bert_tiny_emu).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include <map>
#include <optional>

#include "tests/common/test_util.h"
#include "core/autocast.h"
#include "core/optim/grad_scaler.h"
#include "core/optim/optimizer.h"
#include "models/bert/bert.h"
#include "core/backend.h"
#include "tests/common/test_device.h"

namespace ft::models {
namespace {

using test::rel_error;

const Device kDevice = test::kTestDevice;

// The goldens' tiny configuration (gen_bert_tiny.py): 2 layers, hidden 32, 4 heads, FFN 37, vocab 99;
// the gelu_new fixture: hidden_act gelu_new and FFN 40 (one cuBLASLt GELU epilogue on CUDA).
io::BertConfig tiny_config(int64_t num_labels, const std::string& problem_type = "", bool gelu_new = false) {
  io::Json j = {{"vocab_size", 99}, {"hidden_size", 32}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                {"intermediate_size", gelu_new ? 40 : 37}, {"max_position_embeddings", 64}, {"num_labels", num_labels}};
  if (gelu_new) j["hidden_act"] = "gelu_new";
  if (!problem_type.empty()) j["problem_type"] = problem_type;
  return io::BertConfig::from_json(j, "tiny");
}

class BertTinyGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(BertTinyGolden, LogitsLossAndEveryGradientMatchTransformers) {
  ASSERT_TRUE(test::use_test_device());
  const std::string fixture = GetParam();
  const bool gelu_new = fixture == "gelu_new";
  const std::string ptype = gelu_new ? "single_label_classification" : fixture;
  const io::SafetensorsFile fx =
      io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/bert_tiny_" + fixture + ".safetensors");
  BertForSequenceClassification model(tiny_config(ptype == "regression" ? 1 : 3, ptype, gelu_new));
  {
    NoGradGuard ng;
    for (auto& [name, p] : model.named_parameters()) {
      ASSERT_TRUE(fx.tensors.count("w." + name)) << name;
      p.copy_(fx.tensors.at("w." + name));  // f64 in the fixture, exact f32 values
    }
  }
  model.to(kDevice);
  model.eval();  // the fixture was made without dropout
  auto in = [&](const char* n) {
    const Tensor& t = fx.tensors.at(n);
    return (t.dtype() == DType::f64 ? t.to(DType::f32) : t).to(kDevice);
  };
  const Tensor logits = model.logits(in("input_ids"), in("token_type_ids"), in("attention_mask"));
  const Tensor loss = model.loss(logits, in("labels"));
  EXPECT_EQ(model.problem_type_for(in("labels")), ptype);
  std::printf("[golden] %s logits %.3e loss %.3e\n", fixture.c_str(), rel_error(logits, fx.tensors.at("logits")),
              rel_error(loss, fx.tensors.at("loss")));
  EXPECT_LE(rel_error(logits, fx.tensors.at("logits")), 1e-5);
  EXPECT_LE(rel_error(loss, fx.tensors.at("loss")), 1e-5);
  loss.backward();
  int checked = 0;
  double worst = 0;
  for (auto& [name, p] : model.named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << name;
    const Tensor& want = fx.tensors.at("grad." + name);
    double ref_scale = 0;
    for (double v : want.to_vector<double>()) ref_scale = std::max(ref_scale, std::abs(v));
    if (ref_scale < 1e-12) {
      // The attention key biases: adding the same q.b_k to every score of a row leaves the softmax
      // unchanged, so their gradient is exactly zero; ours must be round-off small.
      double ours = 0;
      for (double v : p.grad().to_vector<double>()) ours = std::max(ours, std::abs(v));
      EXPECT_LE(ours, 1e-6) << "grad." << name << " should be zero";
      ++checked;
      continue;
    }
    // Within 1e-5 of the f64 truth, or, where f32 arithmetic cannot get that close (a bias gradient
    // summing a few nearly cancelling rows), within twice PyTorch's own f32 error on the same tensor.
    worst = std::max(worst, test::expect_golden_gradient(fx.tensors, name, p.grad().to(kCPU)));
    ++checked;
  }
  std::printf("[golden] %s %d gradients, worst relative error %.3e\n", fixture.c_str(), checked, worst);
  EXPECT_EQ(checked, 41);  // 5 embedding tensors + 2 x 16 per layer + pooler 2 + classifier 2
}

// After one AdamW step in training mode, every trainable parameter had a finite, non-zero gradient
// and moved, and a frozen one did neither. The attention key biases are the exception: their gradient
// is exactly zero in exact arithmetic (softmax ignores a constant added to a row of scores), so they
// must only be finite.
TEST(BertTraining, OneAdamWStepMovesEveryTrainableParameter) {
  ASSERT_TRUE(test::use_test_device());
  Generator gen(11);
  BertForSequenceClassification model(tiny_config(3), &gen);
  model.to(kDevice);
  model.train();
  Tensor frozen = model.bert->token_type_embeddings->weight;
  frozen.requires_grad_(false);
  std::map<std::string, std::vector<double>> before;
  for (auto& [name, p] : model.named_parameters()) before[name] = p.to_vector<double>();
  optim::AdamW opt(optim::hf_parameter_groups(model, 1e-3, 0.01));
  const Tensor ids = from_vector_i64({5, 17, 42, 8, 0, 0, 3, 9, 11, 64, 70, 2}, {2, 6}).to(kDevice);
  const Tensor mask = from_vector_i64({1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}, {2, 6}).to(kDevice);
  const Tensor labels = from_vector_i64({2, 0}, {2}).to(kDevice);
  Tensor loss = model.loss(model.logits(ids, Tensor(), mask, &gen), labels);
  loss.backward();
  for (auto& [name, p] : model.named_parameters()) {
    if (!p.requires_grad()) continue;
    ASSERT_TRUE(p.grad().defined()) << name;
    double norm = 0;
    bool finite = true;
    for (double v : p.grad().to_vector<double>()) {
      finite = finite && std::isfinite(v);
      norm += v * v;
    }
    EXPECT_TRUE(finite) << name;
    if (name.find("attention.self.key.bias") == std::string::npos) {
      EXPECT_GT(norm, 0) << name;
    }
  }
  opt.step();
  for (auto& [name, p] : model.named_parameters()) {
    const bool moved = p.to_vector<double>() != before[name];
    if (p.same(frozen)) {
      EXPECT_FALSE(p.grad().defined()) << name;
      EXPECT_FALSE(moved) << name;
    } else if (name.find("attention.self.key.bias") == std::string::npos) {
      EXPECT_TRUE(moved) << name;  // key biases may stay put: their gradient is round-off at most
    }
  }
}

#if defined(FT_TEST_CUDA)
// Training with dropout on the emulated device: the flash-attention kernel (and every other dropout
// site) draws the CPU's masks from the same generator, so loss, logits and every gradient equal the
// CPU run's to f32 round-off. A different mask anywhere would move them by far more than 1e-5.
TEST(BertDropout, CudaFlashAttentionDrawsTheCpuMasks) {
  ASSERT_TRUE(install_cuda_backend());
  ASSERT_STREQ(backend_for(kDevice).implementation(kern::OptionalOp::attention, kern::Elem::f32), "flash");
  Generator init_cpu(5), init_cuda(5);
  BertForSequenceClassification cpu_model(tiny_config(3), &init_cpu), cuda_model(tiny_config(3), &init_cuda);
  cuda_model.to(kDevice);
  cpu_model.train();
  cuda_model.train();
  const Tensor ids = from_vector_i64({5, 17, 42, 8, 0, 0, 3, 9, 11, 64, 70, 2, 7, 1, 0, 0, 0, 0}, {3, 6});
  const Tensor mask = from_vector_i64({1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {3, 6});
  const Tensor labels = from_vector_i64({2, 0, 1}, {3});
  auto step = [&](BertForSequenceClassification& m, Device dev) {
    Generator drop(21);
    Tensor logits = m.logits(ids.to(dev), Tensor(), mask.to(dev), &drop);
    Tensor loss = m.loss(logits, labels.to(dev));
    loss.backward();
    return std::make_pair(logits.to(kCPU), loss.item());
  };
  const auto [cpu_logits, cpu_loss] = step(cpu_model, kCPU);
  const auto [cuda_logits, cuda_loss] = step(cuda_model, kDevice);
  EXPECT_NEAR(cuda_loss, cpu_loss, 1e-5 * std::abs(cpu_loss));
  EXPECT_LE(rel_error(cuda_logits, cpu_logits), 1e-5);
  // Gradients to 1e-4: a bias gradient is a sum over the batch whose terms cancel (the classifier's
  // is the sum of softmax - onehot), so the f32 rounding of its terms, in a different order on each
  // device (cuBLASLt's bias-gradient epilogue on CUDA), is large next to the result: measured worst
  // 1.2e-5, the classifier bias. Attention's mask shifted by one Philox value gives 0.56.
  std::map<std::string, Tensor> cpu_params;
  for (auto& [name, p] : cpu_model.named_parameters()) cpu_params[name] = p;
  double worst = 0;
  for (auto& [name, p] : cuda_model.named_parameters()) {
    if (name.find("attention.self.key.bias") != std::string::npos) continue;  // round-off only (see above)
    const double e = rel_error(p.grad().to(kCPU), cpu_params.at(name).grad());
    worst = std::max(worst, e);
    EXPECT_LE(e, 1e-4) << name;
  }
  std::printf("[dropout] worst gradient difference CUDA vs CPU: %.3g\n", worst);
  // Dropout was on: the same batch in eval mode gives another loss.
  cpu_model.eval();
  const double eval_loss = cpu_model.loss(cpu_model.logits(ids, Tensor(), mask), labels).item();
  EXPECT_GT(std::abs(eval_loss - cpu_loss), 1e-3);
}
#endif

// Leaving padding out of the computation (BertModel::Tokens::attended, what logits() uses) changes
// nothing but round-off: the pooled output, the attended positions' hidden states and every parameter
// gradient match the all-positions path; padding positions of last_hidden_state are zero. A batch
// whose position 0 is padding (left padding) is computed at every position, bit for bit.
TEST(BertTokens, AttendedRowsMatchEveryPositionAndGradient) {
  ASSERT_TRUE(test::use_test_device());
  Generator gen(3);
  BertModel model(tiny_config(3), &gen);
  model.to(kDevice);
  model.eval();
  const Tensor ids = from_vector_i64({5, 17, 42, 8, 0, 0, 3, 9, 0, 64, 70, 2, 7, 1, 0, 0, 0, 0}, {3, 6}).to(kDevice);
  const Tensor mask = from_vector_i64({1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {3, 6}).to(kDevice);
  const Tensor types = from_vector_i64({0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, {3, 6}).to(kDevice);
  const Tensor dir = randn({3, 32}, DType::f32, &gen).to(kDevice);
  auto run = [&](const Tensor& m, BertModel::Tokens which) {
    model.zero_grad();
    const BertOutputs out = model.forward(ids, types, m, nullptr, which);
    sum(mul(out.pooler_output, dir)).backward();
    std::map<std::string, std::vector<double>> grads;
    for (auto& [name, p] : model.named_parameters()) grads[name] = p.grad().to_vector<double>();
    return std::make_pair(out, grads);
  };
  const auto [all, g_all] = run(mask, BertModel::Tokens::all);
  const auto [att, g_att] = run(mask, BertModel::Tokens::attended);
  EXPECT_LE(rel_error(att.pooler_output, all.pooler_output), 1e-6);
  const std::vector<int64_t> m = mask.to_vector<int64_t>();
  const std::vector<double> h_all = all.last_hidden_state.to_vector<double>(), h_att = att.last_hidden_state.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < h_all.size(); ++i) {
    if (m[i / 32]) worst = std::max(worst, std::abs(h_att[i] - h_all[i]));
    else EXPECT_EQ(h_att[i], 0.0) << "padding element " << i;
  }
  EXPECT_LE(worst, 1e-5);
  for (const auto& [name, g] : g_all) {
    double num = 0, den = 0;
    for (size_t i = 0; i < g.size(); ++i) num += (g_att.at(name)[i] - g[i]) * (g_att.at(name)[i] - g[i]), den += g[i] * g[i];
    EXPECT_LE(std::sqrt(num), 1e-5 * std::sqrt(den) + 1e-9) << name;
  }
  // Left padding: position 0 of the last sequence is padding, so every position is computed.
  const Tensor left = from_vector_i64({1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1}, {3, 6}).to(kDevice);
  const auto [l_all, lg_all] = run(left, BertModel::Tokens::all);
  const auto [l_att, lg_att] = run(left, BertModel::Tokens::attended);
  EXPECT_EQ(l_att.last_hidden_state.to_vector<double>(), l_all.last_hidden_state.to_vector<double>());
  EXPECT_EQ(lg_att, lg_all);
}

// --bf16 as the Trainer runs it (tests/golden/gen_bert_tiny_autocast.py): 5 AdamW steps with the
// forward and the loss under autocast, against PyTorch's torch.autocast("cpu", bfloat16) run. Two bf16
// implementations round at different points (attention here is f32 math on bf16 inputs on the CPU
// and on the emulated CUDA device, PyTorch runs its bf16 kernel; GEMM blockings differ), so
// they cannot agree to f32 round-off. The bounds are on the scale D of bf16's own effect, measured in
// the fixture as the distance between PyTorch's bf16 and f32 runs: ftrain's bf16 run stays within 2D
// of PyTorch's f32 run (it is about as accurate as PyTorch's bf16), hence by the triangle inequality
// within 3D of PyTorch's bf16 run, on the losses, every step-1 gradient and every final weight; and
// summed over them it is at least 2x nearer PyTorch's bf16 run than PyTorch's f32 run. The same for
// f16 with GradScaler (the fp16 fixture: the Trainer's fp16=True). Distances are relative L2 norms
// (below says why). The f32 run is checked against PyTorch's f32 run to 1e-5 beside it. The attention
// key biases are left out: their gradient is zero in exact arithmetic (softmax ignores a constant
// added to a row of scores), so both runs hold round-off there, which AdamW's normalisation turns
// into steps of size lr.
class BertAutocast : public ::testing::TestWithParam<std::string> {};

TEST_P(BertAutocast, FiveAdamWStepsMatchTorchAutocast) {
  ASSERT_TRUE(test::use_test_device());
  const std::string low_name = GetParam();
  const DType low = low_name == "bf16" ? DType::bf16 : DType::f16;
  const io::SafetensorsFile fx =
      io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/bert_tiny_autocast_" + low_name + ".safetensors");
  auto in = [&](const std::string& n) { return fx.tensors.at(n).to(kDevice); };
  for (const bool bf16 : {true, false}) {
    BertForSequenceClassification model(tiny_config(3, "single_label_classification"));
    {
      NoGradGuard ng;
      for (auto& [name, p] : model.named_parameters()) p.copy_(fx.tensors.at("w." + name));
    }
    model.to(kDevice);
    model.eval();  // the fixture was made without dropout
    optim::AdamW opt(optim::hf_parameter_groups(model, 1e-3, 0.01));
    std::vector<Tensor> params;
    for (auto& [name, p] : model.named_parameters()) params.push_back(p);
    optim::GradScaler scaler;  // f16 only, GradScaler's defaults as in the fixture
    const bool scaled = bf16 && low == DType::f16;
    std::vector<double> losses;
    std::map<std::string, Tensor> grads;
    autocast::WeightCache cache;
    for (int step = 0; step < 5; ++step) {
      opt.zero_grad();
      Tensor loss;
      {
        std::optional<autocast::Guard> amp;
        if (bf16) amp.emplace(low, &cache);
        loss = model.loss(model.logits(in("input_ids"), in("token_type_ids"), in("attention_mask")), in("labels"));
      }
      ASSERT_EQ(loss.dtype(), DType::f32);
      (scaled ? scaler.scale(loss) : loss).backward();
      cache.clear();
      const bool overflow = scaled && scaler.unscale(params);
      if (step == 0)
        for (auto& [name, p] : model.named_parameters()) grads[name] = p.grad().detach().clone();
      if (!overflow) opt.step();
      if (scaled) scaler.update(overflow);
      losses.push_back(loss.item());
    }
    if (scaled) {
      EXPECT_EQ(scaler.get_scale(), 65536.0f);  // as PyTorch's after these 5 steps: no overflow
    }
    const Tensor got_loss = from_vector(losses, {5}, DType::f64);
    double sum_from_f32 = 0, sum_from_bf16 = 0;
    // Distances are relative L2 norms ||x - y|| / ||y|| of whole tensors: AdamW's normalised update
    // turns round-off in a near-zero gradient element into a step of size lr, so the largest
    // element-wise difference of final weights measures a few noise-led elements, not the tensor.
    auto l2_rel = [](const Tensor& x, const Tensor& y) {
      const std::vector<double> a = x.to_vector<double>(), b = y.to_vector<double>();
      double num = 0, den = 0;
      for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
      return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
    };
    auto check = [&](const std::string& what, const Tensor& got, const std::string& key) {
      if (what.find("attention.self.key.bias") != std::string::npos) return 0.0;
      const Tensor g = got.to(kCPU), f32 = fx.tensors.at("f32" + key);
      if (!bf16) {
        EXPECT_LE(rel_error(g, f32), 1e-5) << what;
        return rel_error(g, f32);
      }
      const double d = l2_rel(f32, fx.tensors.at(key)), from_f32 = l2_rel(g, f32);
      const double from_bf16 = l2_rel(g, fx.tensors.at(key));
      EXPECT_LE(from_f32, std::max(2 * d, 1e-6)) << what << " vs PyTorch f32 (PyTorch bf16 vs f32: " << d << ")";
      EXPECT_LE(from_bf16, std::max(3 * d, 1e-6)) << what << " vs PyTorch bf16 (PyTorch bf16 vs f32: " << d << ")";
      sum_from_f32 += from_f32, sum_from_bf16 += from_bf16;
      return std::max(from_f32 / 2, from_bf16 / 3) / std::max(d, 1e-12);
    };
    double worst = check("losses", got_loss, "loss");
    for (auto& [name, g] : grads) worst = std::max(worst, check("grad." + name, g, "grad." + name));
    for (auto& [name, p] : model.named_parameters()) worst = std::max(worst, check("final." + name, p, "final." + name));
    std::printf("[golden] %s: 5 AdamW steps, worst %s %.3g\n", bf16 ? ("autocast " + low_name).c_str() : "f32",
                bf16 ? "fraction of its bound" : "relative error to PyTorch f32", worst);
    if (bf16) {
      // Following autocast's rounding points (the same casts at the same ops) puts ftrain's low-precision
      // run far nearer PyTorch's low-precision run than its f32 run (summed: bf16 0.099 against 0.70,
      // fp16 0.014 against 0.045); a run that skipped the casts would sit at the f32 run, with a ratio
      // far above 1, and fail this.
      std::printf("[golden] autocast %s: summed distance to PyTorch %s %.4g, to PyTorch f32 %.4g\n", low_name.c_str(),
                  low_name.c_str(), sum_from_bf16, sum_from_f32);
      EXPECT_LE(sum_from_bf16, 0.5 * sum_from_f32);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(LowPrecision, BertAutocast, ::testing::Values("bf16", "fp16"));

INSTANTIATE_TEST_SUITE_P(ProblemTypes, BertTinyGolden,
                         ::testing::Values("single_label_classification", "multi_label_classification", "regression",
                                           "gelu_new"));

}  // namespace
}  // namespace ft::models
