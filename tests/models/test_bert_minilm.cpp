// Native BERT on the real all-MiniLM-L6-v2 against transformers (tests/golden/gen_bert_minilm.py):
// last hidden state and pooled output for 8 padded sentences within 1e-4 relative; and the load
// report and mis-shaped-tensor error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "models/bert/bert.h"

namespace ft::models {
namespace {

std::string data_dir() {
  const char* d = std::getenv("FT_DATA_DIR");
  return d ? d : std::string(std::getenv("HOME")) + "/.cache/ftrain/data";
}

double rel_error(const Tensor& got, const Tensor& want) {
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    diff = std::max(diff, std::abs(g[i] - w[i]));
    scale = std::max(scale, std::abs(w[i]));
  }
  return diff / scale;
}

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
