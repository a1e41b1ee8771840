// config.json parsing: Hugging Face defaults for absent fields, unknown fields kept, clear errors.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/config.h"

namespace ft::io {
namespace {

TEST(Config, BertDefaultsAndTheMiniLmConfig) {
  const Json minilm = Json::parse(R"({"_name_or_path": "nreimers/MiniLM-L6-H384-uncased", "architectures": ["BertModel"],
    "hidden_size": 384, "intermediate_size": 1536, "layer_norm_eps": 1e-12, "model_type": "bert",
    "num_attention_heads": 12, "num_hidden_layers": 6, "vocab_size": 30522, "gradient_checkpointing": false})");
  const BertConfig c = BertConfig::from_json(minilm, "config.json");
  EXPECT_EQ(c.hidden_size, 384);
  EXPECT_EQ(c.num_hidden_layers, 6);
  EXPECT_EQ(c.max_position_embeddings, 512);  // default
  EXPECT_EQ(c.type_vocab_size, 2);
  EXPECT_EQ(c.hidden_act, "gelu");
  EXPECT_DOUBLE_EQ(c.hidden_dropout_prob, 0.1);
  EXPECT_EQ(c.labels.num_labels, 2);
  EXPECT_EQ(c.architectures, (std::vector<std::string>{"BertModel"}));
  const Json back = c.to_json();
  EXPECT_EQ(back["_name_or_path"], "nreimers/MiniLM-L6-H384-uncased");  // unknown fields survive
  EXPECT_EQ(back["gradient_checkpointing"], false);
  EXPECT_EQ(BertConfig::from_json(back, "again").hidden_size, 384);
}

TEST(Config, LabelsComeFromId2Label) {
  BertConfig c = BertConfig::from_json(
      Json::parse(R"({"id2label": {"0": "neg", "1": "neu", "2": "pos"}, "num_labels": 2,
                     "problem_type": "single_label_classification"})"),
      "c");
  EXPECT_EQ(c.labels.num_labels, 3);
  EXPECT_EQ(c.labels.id2label.at(2), "pos");
  const Json j = c.to_json();
  EXPECT_EQ(j["label2id"]["neu"], 1);
  EXPECT_EQ(j["id2label"]["0"], "neg");
}

TEST(Config, ResNetDefaultsAndErrors) {
  const ResNetConfig r = ResNetConfig::from_json(
      Json::parse(R"({"depths": [2, 2, 2, 2], "hidden_sizes": [64, 128, 256, 512], "layer_type": "basic"})"), "c");
  EXPECT_EQ(r.embedding_size, 64);
  EXPECT_EQ(r.num_channels, 3);
  EXPECT_EQ(r.depths[3], 2);
  try {
    BertConfig::from_json(Json::parse(R"({"hidden_size": "big"})"), "model/config.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "model/config.json: field 'hidden_size' has the wrong type (string)");
  }
  EXPECT_THROW(BertConfig::from_json(Json::parse(R"({"hidden_size": 100, "num_attention_heads": 12})"), "c"), Error);
  EXPECT_THROW(ResNetConfig::from_json(Json::parse(R"({"layer_type": "wide"})"), "c"), Error);
  EXPECT_THROW(BertConfig::from_json(Json::parse(R"({"problem_type": "ranking"})"), "c"), Error);
  EXPECT_THROW(read_json("/nonexistent/config.json"), Error);
}

std::string bert_error(const char* json) {
  try {
    BertConfig::from_json(Json::parse(json), "m/config.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Sizes no model can have are refused, naming the field, before any tensor is allocated.
TEST(Config, ImpossibleSizesAreRefused) {
  EXPECT_EQ(bert_error(R"({"num_hidden_layers": -1})"), "m/config.json: num_hidden_layers must be between 1 and 1024, got -1");
  EXPECT_EQ(bert_error(R"({"vocab_size": 0})"), "m/config.json: vocab_size must be between 1 and 16777216, got 0");
  EXPECT_EQ(bert_error(R"({"hidden_dropout_prob": 1.5})"), "m/config.json: hidden_dropout_prob must be in [0, 1), got 1.5");
  EXPECT_EQ(bert_error(R"({"num_labels": -3})"), "m/config.json: num_labels must be between 1 and 1048576, got -3");
  // 1024 layers of width 65536: about 53,000 billion parameters, more than any machine here holds.
  EXPECT_NE(bert_error(R"({"hidden_size": 65536, "num_attention_heads": 64, "num_hidden_layers": 1024})")
                .find("billion parameters"),
            std::string::npos);
  EXPECT_EQ(bert_error("[1, 2]"), "m/config.json: a config must be a JSON object");
  EXPECT_THROW(ResNetConfig::from_json(Json::parse(R"({"depths": [2, -1], "hidden_sizes": [8, 8]})"), "c"), Error);
  EXPECT_THROW(ResNetConfig::from_json(Json::parse(R"({"depths": [], "hidden_sizes": []})"), "c"), Error);
}

// The JSON library's own errors, in reading a file's fields, name the file and the place in it.
TEST(Config, JsonErrorsNameTheFileAndTheKey) {
  const Json j = Json::parse(R"({"loader": {"epoch": "three"}})");
  try {
    read_fields("ck/rng_state.json", [&] { return j.at("loader").at("batch").get<int64_t>(); });
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "ck/rng_state.json: at /loader: key 'batch' not found");
  }
  try {
    read_fields("ck/rng_state.json", [&] { return j.at("loader").at("epoch").get<int64_t>(); });
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "ck/rng_state.json: at /loader/epoch: type must be number, but is string");
  }
}

}  // namespace
}  // namespace ft::io
