// Native BERT on the real all-MiniLM-L6-v2 against transformers (tests/golden/gen_bert_minilm.py):
// last hidden state and pooled output for 8 padded sentences within 1e-4 relative; and the load
// report and mis-shaped-tensor error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "tests/common/test_util.h"
#include "core/error.h"
#include "models/bert/bert.h"

namespace ft::models {
namespace {

using test::data_dir;
using test::rel_error;

TEST(BertGolden, MiniLmHiddenStatesMatchTransformers) {
  const io::BertConfig cfg = io::BertConfig::from_json(io::read_json(data_dir() + "/minilm/config.json"), "config.json");
  BertModel model(cfg);
  const io::SafetensorsReader weights(data_dir() + "/minilm/model.safetensors");
  const LoadReport r = load_weights(model, weights);
  EXPECT_TRUE(r.missing.empty()) << r.missing.size() << " missing, first " << r.missing[0];
  EXPECT_TRUE(r.unexpected.empty()) << r.unexpected.size() << " unexpected, first " << r.unexpected[0];
  model.eval();
  const io::SafetensorsFile fx = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/bert_minilm.safetensors");
  NoGradGuard ng;
  const BertOutputs out = model.forward(fx.tensors.at("input_ids"), fx.tensors.at("token_type_ids"),
                                        fx.tensors.at("attention_mask"));
  const double e_hidden = rel_error(out.last_hidden_state, fx.tensors.at("last_hidden_state"));
  const double e_pooled = rel_error(out.pooler_output, fx.tensors.at("pooler_output"));
  std::printf("[golden] MiniLM last_hidden_state relative error %.3e, pooler_output %.3e\n", e_hidden, e_pooled);
  EXPECT_LE(e_hidden, 1e-4);
  EXPECT_LE(e_pooled, 1e-4);
}

// A fine-tuning start: the MiniLM encoder with a new 2-label head, saved as a Hugging Face directory;
// loading it back gives the same logits. The directory (with ftrain's logits in ftrain_check.safetensors)
// stays in the test temp dir for tools/check_hf_load.py, which loads it with transformers.
TEST(BertGolden, SavedDirectoryReloadsWithTheSameLogits) {
  io::BertConfig cfg = io::BertConfig::from_json(io::read_json(data_dir() + "/minilm/config.json"), "config.json");
  cfg.labels.id2label = {{0, "negative"}, {1, "positive"}};
  cfg.labels.num_labels = 2;
  cfg.labels.problem_type = "single_label_classification";
  Generator gen(5);
  BertForSequenceClassification model(cfg, &gen);
  const LoadReport r = load_weights(model, io::SafetensorsReader(data_dir() + "/minilm/model.safetensors"));
  EXPECT_EQ(r.missing, (std::vector<std::string>{"classifier.weight", "classifier.bias"}));  // the new head
  const std::string msg = init_missing(model, r, cfg.initializer_range, &gen);
  EXPECT_NE(msg.find("newly initialized: [classifier.weight, classifier.bias]"), std::string::npos) << msg;
  EXPECT_EQ(model.classifier->bias.to_vector<double>(), std::vector<double>(2, 0.0));
  model.eval();
  const io::SafetensorsFile fx = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/bert_minilm.safetensors");
  NoGradGuard ng;
  const Tensor logits = model.logits(fx.tensors.at("input_ids"), fx.tensors.at("token_type_ids"), fx.tensors.at("attention_mask"));
  const std::string dir = ::testing::TempDir() + "ft_saved_bert";
  save_pretrained(model, dir, data_dir() + "/minilm");
  io::write_safetensors(dir + "/ftrain_check.safetensors",
                        {{"input_ids", fx.tensors.at("input_ids")}, {"token_type_ids", fx.tensors.at("token_type_ids")},
                         {"attention_mask", fx.tensors.at("attention_mask")}, {"logits", logits}});
  const io::BertConfig saved = io::BertConfig::from_json(io::read_json(dir + "/config.json"), "saved");
  EXPECT_EQ(saved.labels.id2label.at(1), "positive");
  EXPECT_EQ(saved.architectures, (std::vector<std::string>{"BertForSequenceClassification"}));
  BertForSequenceClassification reloaded(saved);
  const LoadReport r2 = load_weights(reloaded, io::SafetensorsReader(dir + "/model.safetensors"));
  EXPECT_TRUE(r2.missing.empty() && r2.unexpected.empty());
  reloaded.eval();
  const Tensor again = reloaded.logits(fx.tensors.at("input_ids"), fx.tensors.at("token_type_ids"), fx.tensors.at("attention_mask"));
  EXPECT_EQ(again.to_vector<float>(), logits.to_vector<float>());
  std::printf("[saved] %s\n", dir.c_str());
}

TEST(BertGolden, ACheckpointWithoutPoolerGetsItInitialisedAndReported) {
  // all-MiniLM-L6-v2 without its pooler: written here with the pooler tensors dropped.
  const io::SafetensorsReader full(data_dir() + "/minilm/model.safetensors");
  std::map<std::string, Tensor> kept;
  for (const io::TensorInfo& t : full.tensors())
    if (t.name.rfind("pooler.", 0) != 0) kept[t.name] = full.load(t.name);
  const std::string p = ::testing::TempDir() + "ft_minilm_no_pooler.safetensors";
  io::write_safetensors(p, kept);
  const io::BertConfig cfg = io::BertConfig::from_json(io::read_json(data_dir() + "/minilm/config.json"), "config.json");
  Generator gen(3);
  BertModel model(cfg, &gen);
  const LoadReport r = load_weights(model, io::SafetensorsReader(p));
  EXPECT_EQ(r.missing, (std::vector<std::string>{"pooler.dense.weight", "pooler.dense.bias"}));
  const std::string msg = init_missing(model, r, cfg.initializer_range, &gen);
  EXPECT_NE(msg.find("newly initialized: [pooler.dense.weight, pooler.dense.bias]"), std::string::npos) << msg;
  double sq = 0;
  const auto w = model.pooler->weight.to_vector<double>();
  for (double x : w) sq += x * x;
  EXPECT_NEAR(std::sqrt(sq / static_cast<double>(w.size())), 0.02, 0.002);  // normal(0, initializer_range)
  std::remove(p.c_str());
}

TEST(BertGolden, MisShapedTensorsAreNamedWithBothShapes) {
  io::BertConfig cfg = io::BertConfig::from_json(io::read_json(data_dir() + "/minilm/config.json"), "config.json");
  cfg.intermediate_size = 1000;  // does not match the checkpoint's 1536
  BertModel model(cfg);
  const io::SafetensorsReader weights(data_dir() + "/minilm/model.safetensors");
  try {
    load_weights(model, weights);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'encoder.layer.0.intermediate.dense.weight' has shape [1536, 384] but "
                                         "the model's 'encoder.layer.0.intermediate.dense.weight' is [1000, 384]"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ft::models
