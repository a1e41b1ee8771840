// LoRA goldens (tests/golden/gen_lora_tiny.py, PEFT 0.21.2 on transformers 5.23.0, evaluated in f64):
// a tiny BERT classifier, a tiny Llama and a tiny GPT-2 (Conv1D layers), each with PEFT's adapter file loaded onto the base weights
// (adapter_model.safetensors and adapter_config.json as save_pretrained wrote them): logits, loss and
// every trainable gradient (adapters and the modules to save) within 1e-5 relative of the f64 truth
// (or twice PyTorch's own f32 error) and the tensors after one AdamW step, with dropout off, and on
// with PEFT's masks fed to ftrain's adapters; merge_and_unload's weights; the fused paths kept with
// adapters present; bf16-stored frozen weights; ftrain's own adapter file equal to PEFT's; the errors for a
// target that matches nothing, an adapter for another base and r <= 0. On the CPU (ft_lora) and on
// the SIMT-emulated CUDA device (ft_lora_emu).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "core/autocast.h"
#include "core/nn/layers.h"
#include "core/ops.h"
#include "core/optim/optimizer.h"
#include "io/safetensors.h"
#include "models/bert/bert.h"
#include "models/common/causal_lm.h"
#include "models/common/lora.h"
#include "tests/common/test_util.h"
#include "tests/common/test_device.h"

namespace ft::models {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::rel_error;

const Device kDevice = test::kTestDevice;

struct Case {
  io::SafetensorsFile fx;
  io::Json config, adapter_config;
  std::vector<std::string> targeted;
  std::shared_ptr<nn::Module> model;
  std::shared_ptr<BertForSequenceClassification> bert;  // one of these two
  std::shared_ptr<CausalLM> lm;
  std::string dir;  // a temporary directory with the base weights and PEFT's adapter files
  bool bert_case() const { return bert != nullptr; }
};

std::string temp_dir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "ft_lora_" + name + "_" + std::to_string(::getpid());
  fs::create_directories(d + "/adapter");
  return d;
}

// The fixture's base model loaded from its weights, and PEFT's adapter directory written back out.
Case load_case(const std::string& name, bool with_adapter = true) {
  EXPECT_TRUE(test::use_test_device());
  Case c;
  c.fx = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/lora_" + name + ".safetensors");
  c.config = io::Json::parse(c.fx.metadata.at("config"));
  c.adapter_config = io::Json::parse(c.fx.metadata.at("adapter_config"));
  for (const auto& t : io::Json::parse(c.fx.metadata.at("targeted"))) c.targeted.push_back(t.get<std::string>());
  c.dir = temp_dir(name);
  std::map<std::string, Tensor> base, adapter;
  for (auto& [n, t] : c.fx.tensors) {
    if (n.rfind("w.", 0) == 0) base[n.substr(2)] = t.to(DType::f32);
    if (n.rfind("a.", 0) == 0) adapter[n.substr(2)] = t;
  }
  io::write_safetensors(c.dir + "/model.safetensors", base);
  io::write_safetensors(c.dir + "/adapter/adapter_model.safetensors", adapter, {{"format", "pt"}});
  io::write_json(c.dir + "/adapter/adapter_config.json", c.adapter_config);
  const io::SafetensorsReader file(c.dir + "/model.safetensors");
  if (c.config.value("model_type", "") == "bert") {
    c.bert = std::make_shared<BertForSequenceClassification>(io::BertConfig::from_json(c.config, name));
    EXPECT_TRUE(load_weights(*c.bert, file).missing.empty());
    c.model = c.bert;
  } else {
    c.lm = make_causal_lm(c.config, name);
    EXPECT_EQ(load_causal_lm(*c.lm, file), "");
    c.model = c.lm;
  }
  if (with_adapter) load_adapter(*c.model, c.dir + "/adapter");
  c.model->to(kDevice);
  return c;
}

nn::Linear& linear_at(nn::Module& m, const std::string& path) {
  for (auto& [p, mod] : m.named_modules())
    if (p == path) return dynamic_cast<nn::Linear&>(*mod);
  throw Error(cat("no module ", path));
}

std::pair<Tensor, Tensor> forward(Case& c) {
  const auto& fx = c.fx.tensors;
  const Tensor ids = fx.at("input_ids").to(kDevice), mask = fx.at("attention_mask");
  if (c.bert_case()) {
    const Tensor logits = c.bert->logits(ids, fx.at("token_type_ids").to(kDevice), mask);
    return {logits, c.bert->loss(logits, fx.at("labels").to(kDevice))};
  }
  const Tensor logits = c.lm->forward(ids, mask);
  return {logits, causal_lm_loss(logits, fx.at("labels").to(kDevice))};
}

// The logits where they are defined: every row of a classifier's, the attended positions of an LM's.
Tensor defined_logits(const Case& c, const Tensor& logits) {
  const Tensor l = logits.to(kCPU).to(DType::f64);
  return c.bert_case() ? l : mul(l, c.fx.tensors.at("attention_mask").to(DType::f64).unsqueeze(2));
}

class LoraGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(LoraGolden, LogitsLossAndEveryAdapterGradientMatchPeft) {
  const std::string name = GetParam();
  Case c = load_case(name);
  const auto& fx = c.fx.tensors;
  const bool dropout = name.find("dropout") != std::string::npos;
  c.model->train(dropout);
  int fed = 0;
  if (dropout)
    for (const std::string& t : c.targeted) {
      linear_at(*c.model, t).lora_dropout_mask = fx.at("mask." + t).to(DType::f32);
      ++fed;
    }
  EXPECT_EQ(fed, dropout ? static_cast<int>(c.targeted.size()) : 0);
  auto [logits, loss] = forward(c);
  const double le = rel_error(defined_logits(c, logits), defined_logits(c, fx.at("logits")));
  const double lo = rel_error(loss.to(kCPU), fx.at("loss"));
  std::printf("[golden] lora %s logits %.3e loss %.3e\n", name.c_str(), le, lo);
  EXPECT_LE(le, 1e-5);
  EXPECT_LE(lo, 1e-5);
  loss.backward();
  int checked = 0;
  double worst = 0;
  for (auto& [pname, p] : c.model->named_parameters()) {
    if (!p.requires_grad()) {
      EXPECT_FALSE(p.grad().defined()) << pname << " is frozen and must get no gradient";
      EXPECT_FALSE(fx.count("grad." + pname)) << pname << " trains in PEFT";
      continue;
    }
    ASSERT_TRUE(fx.count("grad." + pname)) << pname << " trains in ftrain but not in PEFT";
    ASSERT_TRUE(p.grad().defined()) << pname;
    worst = std::max(worst, test::expect_golden_gradient(fx, pname, p.grad().to(kCPU)));
    ++checked;
  }
  EXPECT_EQ(static_cast<size_t>(checked), test::golden_gradient_count(fx));
  std::printf("[golden] lora %s %d gradients, worst relative error %.3e\n", name.c_str(), checked, worst);
  // One AdamW step on what trains (as the generator's torch.optim.AdamW step): the updated adapters
  // and head. Adam's first step moves each element by about lr, so this checks the update's sign and
  // size and the decoupled decay, within 1e-5 of each tensor's largest element.
  optim::ParamGroup g;
  g.lr = 1e-2;
  g.weight_decay = 0.01;
  for (auto& [pname, p] : c.model->named_parameters())
    if (p.requires_grad()) g.params.push_back(p), g.names.push_back(pname);
  optim::AdamW opt({g});
  opt.step();
  double worst_step = 0;
  for (size_t i = 0; i < g.params.size(); ++i) {
    const double e = rel_error(g.params[i].to(kCPU), fx.at("step1." + g.names[i]));
    worst_step = std::max(worst_step, e);
    EXPECT_LE(e, 1e-5) << "step1." << g.names[i];
  }
  std::printf("[golden] lora %s after one AdamW step: worst relative error %.3e\n", name.c_str(), worst_step);
  fs::remove_all(c.dir);
}

TEST_P(LoraGolden, SavedAdapterEqualsPeftsFile) {
  const std::string name = GetParam();
  Case c = load_case(name);
  const LoraConfig cfg = read_adapter_config(c.dir + "/adapter");
  save_adapter(*c.model, cfg, c.dir + "/ours");
  const io::SafetensorsFile ours = io::read_safetensors(c.dir + "/ours/adapter_model.safetensors");
  size_t peft_count = 0;
  for (auto& [n, t] : c.fx.tensors) {
    if (n.rfind("a.", 0) != 0) continue;
    ++peft_count;
    ASSERT_TRUE(ours.tensors.count(n.substr(2))) << n.substr(2);
    EXPECT_EQ(rel_error(ours.tensors.at(n.substr(2)), t), 0.0) << n.substr(2);
  }
  EXPECT_EQ(ours.tensors.size(), peft_count);
  const LoraConfig back = read_adapter_config(c.dir + "/ours");
  EXPECT_EQ(back.r, cfg.r);
  EXPECT_EQ(back.scaling(), cfg.scaling());
  EXPECT_EQ(back.target_modules, cfg.target_modules);
  EXPECT_EQ(back.modules_to_save, cfg.modules_to_save);
  fs::remove_all(c.dir);
}

INSTANTIATE_TEST_SUITE_P(Peft, LoraGolden,
                         ::testing::Values("bert_all_linear", "bert_dropout_rslora", "llama_all_linear", "llama_dropout",
                                           "gpt2_all_linear"));

class LoraMerge : public ::testing::TestWithParam<std::string> {};

TEST_P(LoraMerge, MergedWeightsEqualMergeAndUnload) {
  const std::string name = GetParam();
  Case c = load_case(name);
  c.model->eval();
  NoGradGuard ng;
  const Tensor before = defined_logits(c, forward(c).first);
  merge_lora(*c.model);
  for (auto& [path, m] : c.model->named_modules()) EXPECT_EQ(path.find("lora_"), std::string::npos) << path;
  double worst = 0;
  for (const std::string& t : c.targeted) {
    // GPT-2's Conv1D weights are [in, out] in transformers' files (and in merge_and_unload's result).
    bool transposed = false;
    if (c.lm)
      for (const std::string& suffix : c.lm->load_rules().transposed) transposed = transposed || ends_with(t + ".weight", suffix);
    const Tensor w = c.model->parameter(t + ".weight").to(kCPU);
    const double e = rel_error(transposed ? w.transpose(0, 1).contiguous() : w, c.fx.tensors.at("merged." + t + ".weight"));
    worst = std::max(worst, e);
    EXPECT_LE(e, 1e-6) << t;
  }
  const Tensor after = defined_logits(c, forward(c).first);
  std::printf("[golden] lora merge %s: weights %.3e, logits moved %.3e\n", name.c_str(), worst, rel_error(after, before));
  EXPECT_LE(rel_error(after, before), 1e-5);
  EXPECT_LE(rel_error(after, defined_logits(c, c.fx.tensors.at("logits"))), 1e-5);
  fs::remove_all(c.dir);
}

INSTANTIATE_TEST_SUITE_P(Peft, LoraMerge, ::testing::Values("bert_all_linear", "llama_all_linear", "gpt2_all_linear"));

TEST(Lora, ATargetThatMatchesNothingIsNamed) {
  Case c = load_case("bert_all_linear", false);
  LoraConfig cfg;
  cfg.target_modules = {"q_proj"};
  cfg.task_type = "SEQ_CLS";
  const std::string e = error_of([&] { add_lora(*c.model, cfg); });
  EXPECT_NE(e.find("target modules [q_proj] not found in the base model"), std::string::npos) << e;
  EXPECT_NE(e.find("bert.encoder.layer.0.attention.self.query"), std::string::npos) << e;
  cfg.target_modules = {"query"};
  cfg.modules_to_save = {"clasifier"};
  const std::string e2 = error_of([&] { add_lora(*c.model, cfg); });
  EXPECT_NE(e2.find("modules_to_save 'clasifier' matches no module"), std::string::npos) << e2;
  fs::remove_all(c.dir);
}

TEST(Lora, AnAdapterForAnotherBaseNamesTheShapes) {
  Case c = load_case("bert_all_linear", false);
  io::Json wider = c.config;
  wider["hidden_size"] = 48;
  wider["num_attention_heads"] = 4;
  BertForSequenceClassification other(io::BertConfig::from_json(wider, "wider"));
  const std::string e = error_of([&] { load_adapter(other, c.dir + "/adapter"); });
  EXPECT_NE(e.find("has shape [4, 32] and the model's"), std::string::npos) << e;
  EXPECT_NE(e.find("[4, 48]"), std::string::npos) << e;
  EXPECT_NE(e.find("another base model"), std::string::npos) << e;
  fs::remove_all(c.dir);
}

TEST(Lora, RankMustBePositive) {
  Case c = load_case("llama_dropout", false);
  LoraConfig cfg;
  cfg.r = 0;
  cfg.target_modules = {"q_proj"};
  EXPECT_NE(error_of([&] { add_lora(*c.model, cfg); }).find("`r` should be a positive integer"), std::string::npos);
  io::Json j = c.adapter_config;
  j["r"] = -2;
  EXPECT_NE(error_of([&] { LoraConfig::from_json(j, "adapter_config.json"); }).find("'r' should be a positive integer"),
            std::string::npos);
  j = c.adapter_config;
  j["use_dora"] = true;
  EXPECT_NE(error_of([&] { LoraConfig::from_json(j, "adapter_config.json"); }).find("DoRA"), std::string::npos);
  fs::remove_all(c.dir);
}

TEST(Lora, PeftInitialisationAndFreezing) {
  Case c = load_case("llama_dropout", false);
  LoraConfig cfg;
  cfg.r = 8;
  cfg.lora_alpha = 16;
  cfg.target_modules = {"all-linear"};
  cfg.task_type = "CAUSAL_LM";
  Generator gen(5);
  const std::vector<std::string> targeted = add_lora(*c.model, cfg, &gen);
  EXPECT_EQ(targeted.size(), 14u);  // 7 per layer; the tied head is no Linear
  EXPECT_EQ(cfg.target_modules, targeted);  // all-linear is saved as the paths, as PEFT does
  const nn::Linear& q = linear_at(*c.model, "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(q.lora_scaling, 2.0);
  const std::vector<float> b = q.lora_B->weight.to(kCPU).to_vector<float>();
  EXPECT_TRUE(std::all_of(b.begin(), b.end(), [](float v) { return v == 0.0f; }));
  // kaiming_uniform(a=sqrt(5)) on [r, in]: U(-1/sqrt(in), 1/sqrt(in)).
  const std::vector<float> a = q.lora_A->weight.to(kCPU).to_vector<float>();
  const float bound = 1.0f / std::sqrt(32.0f);
  float lo = 0, hi = 0;
  for (float v : a) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_LE(hi, bound);
  EXPECT_GE(lo, -bound);
  EXPECT_GT(hi - lo, bound);  // spread over the range, not a constant
  const auto [trainable, all] = trainable_parameter_counts(*c.model);
  int64_t want = 0;
  for (auto& [n, p] : c.model->named_parameters())
    if (n.find(".lora_") != std::string::npos) want += p.numel();
  EXPECT_EQ(trainable, want);
  EXPECT_GT(all, trainable);
  cfg.use_rslora = true;
  EXPECT_DOUBLE_EQ(cfg.scaling(), 16.0 / std::sqrt(8.0));
  fs::remove_all(c.dir);
}

// The autograd nodes a loss was computed through, by op name.
std::map<std::string, int> graph_ops(const Tensor& loss) {
  std::map<std::string, int> ops;
  std::vector<const Node*> stack{loss.grad_fn().get()};
  std::set<const Node*> seen;
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n).second) continue;
    ++ops[n->name()];
    for (const Edge& e : n->edges()) stack.push_back(e.node.get());
  }
  return ops;
}

// Adapters on every linear layer of BERT (attention projections, attention output, intermediate,
// output, pooler) add their own GEMMs, scaling and sum and nothing else: the fused attention, the
// fused bias + dropout + residual + LayerNorm tails and the fused bias + GELU run as many times as
// without adapters, and no composite takes their place. (All parameters require gradients here, so
// both graphs are whole.)
TEST(Lora, AdaptersKeepTheFusedPaths) {
  Case base = load_case("bert_all_linear", false), adapted = load_case("bert_all_linear");
  for (Case* c : {&base, &adapted}) {
    c->model->eval();
    for (auto& [n, p] : c->model->named_parameters()) p.requires_grad_(true);
  }
  const std::map<std::string, int> without = graph_ops(forward(base).second), with = graph_ops(forward(adapted).second);
  const int adapters = static_cast<int>(adapted.targeted.size());
  ASSERT_EQ(adapters, 13);
  // The CUDA backend runs bias + GELU and bias + dropout + residual + LayerNorm as their composites
  // (README, status table): there only attention is a fused node, and the counts below cover the rest.
#if defined(FT_TEST_CUDA)
  const std::vector<const char*> fused_ops = {"scaled_dot_product_attention"};
#else
  const std::vector<const char*> fused_ops = {"scaled_dot_product_attention", "bias_dropout_add_layer_norm", "bias_gelu"};
#endif
  for (const char* fused : fused_ops)
    EXPECT_GT(without.count(fused) ? without.at(fused) : 0, 0) << fused << " is not in the base graph";
  std::set<std::string> names;
  for (auto& [n, k] : without) names.insert(n);
  for (auto& [n, k] : with) names.insert(n);
  for (const std::string& n : names) {
    const int a = without.count(n) ? without.at(n) : 0, b = with.count(n) ? with.at(n) : 0;
    // Each adapter: two GEMMs (lora_A, lora_B), the scaling, and the sum with the base GEMM's output.
    const int extra = n == "linear" ? 2 * adapters : n == "mul_scalar" || n == "add" ? adapters : 0;
    EXPECT_EQ(b - a, extra) << n << ": " << a << " nodes without adapters, " << b << " with";
  }
  fs::remove_all(base.dir);
}

// Under autocast every GEMM casts the frozen weights to bf16; storing them in bf16 changes nothing
// but the memory: logits and every adapter gradient are bit-identical.
TEST(Lora, FrozenWeightsStoredInBf16GiveTheAutocastResults) {
  for (const std::string name : {"bert_all_linear", "llama_dropout"}) {
    Case a = load_case(name), b = load_case(name);
    EXPECT_GT(store_frozen_linear_weights(*b.model, DType::bf16), 0) << name;
    auto run = [](Case& c) {
      c.model->eval();  // no dropout draws: the two runs see the same computation
      autocast::Guard g(DType::bf16);
      auto [logits, loss] = forward(c);
      loss.backward();
      return logits.to(kCPU).to(DType::f32);
    };
    const Tensor la = run(a), lb = run(b);
    EXPECT_EQ(rel_error(lb, la), 0.0) << name;
    const auto pa = a.model->named_parameters(), pb = b.model->named_parameters();
    ASSERT_EQ(pa.size(), pb.size());
    int frozen_bf16 = 0, compared = 0;
    for (size_t i = 0; i < pa.size(); ++i) {
      const Tensor& p = pb[i].second;
      if (!p.requires_grad()) {
        frozen_bf16 += p.dtype() == DType::bf16;
        continue;
      }
      EXPECT_EQ(p.dtype(), DType::f32) << pb[i].first << ": adapters and heads stay f32";
      EXPECT_EQ(rel_error(p.grad().to(kCPU), pa[i].second.grad().to(kCPU)), 0.0) << pb[i].first;
      ++compared;
    }
    EXPECT_GT(frozen_bf16, 0);
    EXPECT_GT(compared, 0);
    fs::remove_all(a.dir);
  }
}

}  // namespace
}  // namespace ft::models
