// Causal-LM goldens (tests/golden/gen_causal_lm_tiny.py, transformers 5.23.0 evaluated in f64):
// Llama with grouped-query attention and tied embeddings, Llama with attention biases and an untied
// head, and GPT-2 (Conv1D weights transposed by the loader), each loaded from a checkpoint file
// through the shared loader's rules: logits at the attended positions, the loss (labels shifted
// inside) and every parameter gradient within 1e-5 relative of the f64 truth (or twice PyTorch's own
// f32 error), on the CPU (ft_causal_lm) and on the SIMT-emulated CUDA device (ft_causal_lm_emu). Also
// the KV cache (incremental logits equal the full pass), saving (reloads with the same logits, tied
// heads not duplicated) and a one-step training invariant.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/ops.h"
#include "core/optim/optimizer.h"
#include "models/common/causal_lm.h"
#include "models/common/generate.h"
#include "tests/common/test_util.h"
#include "tests/common/test_device.h"

namespace ft::models {
namespace {

using test::rel_error;

const Device kDevice = test::kTestDevice;

struct Fixture {
  io::SafetensorsFile fx;
  std::shared_ptr<CausalLM> model;
  std::string weights_path;
};

// The fixture's model, built from its config.json and loaded from a checkpoint of its weights
// (names and layouts as transformers saves them).
Fixture load_fixture(const std::string& name) {
  EXPECT_TRUE(test::use_test_device());
  Fixture f;
  f.fx = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/causal_" + name + ".safetensors");
  const io::Json config = io::Json::parse(f.fx.metadata.at("config"));
  f.model = make_causal_lm(config, name);
  std::map<std::string, Tensor> weights;
  for (auto& [n, t] : f.fx.tensors)
    if (n.rfind("w.", 0) == 0) weights[n.substr(2)] = t.to(DType::f32);
  f.weights_path = ::testing::TempDir() + "ft_causal_" + name + "_" + std::to_string(::getpid()) + ".safetensors";
  io::write_safetensors(f.weights_path, weights);
  const std::string msg = load_causal_lm(*f.model, io::SafetensorsReader(f.weights_path));
  EXPECT_EQ(msg, "") << name;
  f.model->to(kDevice);
  f.model->eval();
  return f;
}

// The logits where the attention mask is 1 (padded positions are not defined by the model).
Tensor attended(const Tensor& logits, const Tensor& mask) {
  return mul(logits.to(kCPU).to(DType::f64), mask.to(DType::f64).unsqueeze(2));
}

class CausalLmGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(CausalLmGolden, LogitsLossAndEveryGradientMatchTransformers) {
  const std::string name = GetParam();
  Fixture f = load_fixture(name);
  const auto& fx = f.fx.tensors;
  const Tensor ids = fx.at("input_ids").to(kDevice), mask = fx.at("attention_mask");
  const Tensor logits = f.model->forward(ids, mask);
  const Tensor loss = causal_lm_loss(logits, fx.at("labels").to(kDevice));
  const double le = rel_error(attended(logits, mask), attended(fx.at("logits"), mask));
  std::printf("[golden] %s logits %.3e loss %.3e\n", name.c_str(), le, rel_error(loss, fx.at("loss")));
  EXPECT_LE(le, 1e-5);
  EXPECT_LE(rel_error(loss, fx.at("loss")), 1e-5);
  loss.backward();
  const LoadRules& rules = f.model->load_rules();
  int checked = 0;
  double worst = 0;
  for (auto& [pname, p] : f.model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << pname;
    ASSERT_TRUE(fx.count("grad." + pname)) << pname;
    bool transposed = false;
    for (const std::string& s : rules.transposed) transposed = transposed || ends_with(pname, s);
    const Tensor g = transposed ? p.grad().to(kCPU).transpose(0, 1).contiguous() : p.grad();
    worst = std::max(worst, test::expect_golden_gradient(fx, pname, g));
    ++checked;
  }
  EXPECT_EQ(static_cast<size_t>(checked), test::golden_gradient_count(fx));
  std::printf("[golden] %s %d gradients, worst relative error %.3e\n", name.c_str(), checked, worst);
  std::remove(f.weights_path.c_str());
}

TEST_P(CausalLmGolden, TheKvCacheGivesTheFullPassLogits) {
  Fixture f = load_fixture(GetParam());
  NoGradGuard ng;
  const Tensor ids = f.fx.tensors.at("input_ids").slice(0, 0, 1).to(kDevice);  // the unpadded row
  const Tensor full = f.model->forward(ids, Tensor()).to(kCPU);
  KVCache cache;
  // A prompt of 5 tokens, then one token at a time, as generation runs.
  std::vector<Tensor> parts{f.model->forward(ids.slice(1, 0, 5), Tensor(), &cache).to(kCPU)};
  for (int64_t i = 5; i < 9; ++i) parts.push_back(f.model->forward(ids.slice(1, i, i + 1), Tensor(), &cache).to(kCPU));
  EXPECT_EQ(cache.length(), 9);
  const Tensor incremental = concat(parts, 1);
  EXPECT_LE(rel_error(incremental, full), 1e-6);
  const Tensor last = f.model->forward(ids, Tensor(), nullptr, nullptr, /*last_only=*/true).to(kCPU);
  EXPECT_LE(rel_error(last, full.slice(1, 8, 9)), 1e-6);
  std::remove(f.weights_path.c_str());
}

TEST_P(CausalLmGolden, SavedDirectoryReloadsWithTheSameLogits) {
  Fixture f = load_fixture(GetParam());
  NoGradGuard ng;
  const std::string dir = ::testing::TempDir() + "ft_causal_save_" + GetParam() + std::to_string(::getpid());
  save_causal_lm(*f.model, dir);
  const io::Json config = io::read_json(dir + "/config.json");
  auto reloaded = make_causal_lm(config, dir);
  const io::SafetensorsReader r(dir + "/model.safetensors");
  EXPECT_FALSE(r.contains("lm_head.weight") && config.value("tie_word_embeddings", true)) << "a tied head is saved once";
  EXPECT_EQ(load_causal_lm(*reloaded, r), "");
  reloaded->to(kDevice);
  reloaded->eval();
  const Tensor ids = f.fx.tensors.at("input_ids").to(kDevice);
  const Tensor mask = f.fx.tensors.at("attention_mask");
  EXPECT_EQ(rel_error(reloaded->forward(ids, mask), f.model->forward(ids, mask)), 0.0);
  std::filesystem::remove_all(dir);
  std::remove(f.weights_path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Models, CausalLmGolden, ::testing::Values("llama_gqa_tied", "llama_mha_bias", "gpt2"));

TEST(CausalLm, OneAdamWStepMovesEveryParameter) {
  Fixture f = load_fixture("llama_gqa_tied");
  f.model->train();
  std::map<std::string, std::vector<double>> before;
  for (auto& [n, p] : f.model->named_parameters()) before[n] = p.to_vector<double>();
  optim::AdamW opt(optim::hf_parameter_groups(*f.model, 1e-3, 0.01));
  const Tensor ids = f.fx.tensors.at("input_ids").to(kDevice);
  causal_lm_loss(f.model->forward(ids, f.fx.tensors.at("attention_mask")), f.fx.tensors.at("labels").to(kDevice)).backward();
  for (auto& [n, p] : f.model->named_parameters()) {
    ASSERT_TRUE(p.grad().defined()) << n;
    double norm = 0;
    for (double v : p.grad().to_vector<double>()) norm += v * v;
    EXPECT_TRUE(std::isfinite(norm) && norm > 0) << n;
  }
  opt.step();
  for (auto& [n, p] : f.model->named_parameters()) EXPECT_NE(p.to_vector<double>(), before[n]) << n;
  std::remove(f.weights_path.c_str());
}

TEST(CausalLm, AnUnknownModelTypeAndAnOverlongInputAreClearErrors) {
  try {
    make_causal_lm({{"model_type", "mistral"}}, "cfg.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg.json: model_type 'mistral' is not a causal language model"), std::string::npos);
  }
  Fixture f = load_fixture("gpt2");
  const Tensor ids = zeros({1, 65}, DType::i64).to(kDevice);
  try {
    f.model->forward(ids, Tensor());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("65 positions exceed n_positions 64"), std::string::npos) << e.what();
  }
  std::remove(f.weights_path.c_str());
}

}  // namespace
}  // namespace ft::models

namespace ft::models {
namespace {

// The logits warpers in transformers' order, and the draw.
TEST(Generate, SamplingWarpersKeepWhatTransformersKeeps) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 0.5f, 3.0f};
  GenerationConfig c;
  c.do_sample = true;
  c.top_k = 1;  // ties at the k-th value are kept (transformers' >= kth rule): ids 1 and 4
  for (double u : {0.01, 0.49, 0.51, 1.0}) {
    const int64_t t = sample_token(logits, c, u);
    EXPECT_TRUE(t == 1 || t == 4) << u;
  }
  EXPECT_EQ(sample_token(logits, c, 0.01), 1);
  EXPECT_EQ(sample_token(logits, c, 1.0), 4);
  c.top_k = 0;
  c.top_p = 0.3;  // the two 3.0s hold 2 x 0.3383 of the mass: the smallest set above 0.3 is one of them
  int kept[5] = {0, 0, 0, 0, 0};
  for (int i = 1; i <= 100; ++i) ++kept[sample_token(logits, c, i / 100.0)];
  EXPECT_EQ(kept[0] + kept[2] + kept[3], 0);
  c.top_p = 1.0;
  c.temperature = 1e-4;  // a temperature near 0 is greedy
  EXPECT_EQ(sample_token({0.1f, 0.2f, 0.15f}, c, 0.999), 1);
  // At temperature 1 the draw follows the softmax: u below p(0) picks token 0.
  c.temperature = 1.0;
  const std::vector<float> two = {0.0f, std::log(3.0f)};  // p = 0.25, 0.75
  EXPECT_EQ(sample_token(two, c, 0.24), 0);
  EXPECT_EQ(sample_token(two, c, 0.26), 1);
}

TEST(Generate, GreedyStopsAtEosAndIsReproducibleWhenSampling) {
  Fixture f = load_fixture("llama_gqa_tied");
  GenerationConfig c;
  c.max_new_tokens = 12;
  const std::vector<int64_t> prompt = {5, 17, 42};
  const std::vector<int64_t> greedy = generate(*f.model, prompt, c, kDevice);
  ASSERT_EQ(greedy.size(), 12u);
  c.eos_token_ids = {greedy[3]};  // stop at the fourth token: it is kept, nothing after it
  const std::vector<int64_t> stopped = generate(*f.model, prompt, c, kDevice);
  const auto first = std::find(greedy.begin(), greedy.end(), greedy[3]);  // the first time it appears
  EXPECT_EQ(stopped, std::vector<int64_t>(greedy.begin(), first + 1));
  c.eos_token_ids.clear();
  c.do_sample = true;
  c.seed = 7;
  EXPECT_EQ(generate(*f.model, prompt, c, kDevice), generate(*f.model, prompt, c, kDevice));
  std::remove(f.weights_path.c_str());
}

}  // namespace
}  // namespace ft::models
