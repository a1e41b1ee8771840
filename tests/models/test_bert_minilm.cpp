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
