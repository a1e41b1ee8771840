// Hugging Face config.json files: BertConfig and ResNetConfig with transformers' defaults for absent
// fields (../shared/reference/hf-reference.md sections 2.2 and 4.1). The parsed JSON is kept whole,
// so fields ftrain does not know survive a load/save round trip unchanged.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"

namespace ft::io {

using Json = nlohmann::ordered_json;

// Reads and parses a JSON file; errors name the file (and the parser's position).
Json read_json(const std::string& path);

// The JSON library's own errors (j.at("key") on a missing key, get<int>() on a string) as one line
// naming the file and, since JSON_DIAGNOSTICS is on (CMakeLists.txt), the place in the document:
// "x/rng_state.json: at /loader: key 'epoch' not found".
std::string json_error(const std::string& path, const std::exception& e);

// Runs `read` (which interprets a parsed file's fields) so that any such error names the file.
template <class F>
auto read_fields(const std::string& path, F&& read) -> decltype(read()) {
  try {
    return read();
  } catch (const nlohmann::json::exception& e) {
    throw Error(json_error(path, e));
  }
}
// Writes JSON (2-space indent, as transformers does) to a temporary file renamed into place.
void write_json(const std::string& path, const Json& j);

// Fields every PretrainedConfig has, for classification heads.
struct LabelConfig {
  std::map<int64_t, std::string> id2label;
  std::map<std::string, int64_t> label2id;
  int64_t num_labels = 2;    // from id2label when present, else num_labels, else 2
  std::string problem_type;  // "", "regression", "single_label_classification", "multi_label_classification"
};
// The label fields of a config.json (id2label, label2id, num_labels, problem_type); errors name `where`.
LabelConfig labels_from(const Json& j, const std::string& where);
void labels_to(const LabelConfig& l, Json& j);

struct BertConfig {
  Json raw;  // everything in the file
  int64_t vocab_size = 30522, hidden_size = 768, num_hidden_layers = 12, num_attention_heads = 12;
  int64_t intermediate_size = 3072, max_position_embeddings = 512, type_vocab_size = 2, pad_token_id = 0;
  std::string hidden_act = "gelu", position_embedding_type = "absolute";
  double hidden_dropout_prob = 0.1, attention_probs_dropout_prob = 0.1, initializer_range = 0.02;
  double layer_norm_eps = 1e-12;
  double classifier_dropout = -1;  // absent/null: falls back to hidden_dropout_prob
  std::vector<std::string> architectures;
  LabelConfig labels;

  static BertConfig from_json(const Json& j, const std::string& where);
  Json to_json() const;  // raw with the known fields written back
};

struct ResNetConfig {
  Json raw;
  int64_t num_channels = 3, embedding_size = 64;
  std::vector<int64_t> hidden_sizes = {256, 512, 1024, 2048}, depths = {3, 4, 6, 3};
  std::string layer_type = "bottleneck", hidden_act = "relu";
  bool downsample_in_first_stage = false, downsample_in_bottleneck = false;
  std::vector<std::string> architectures;
  LabelConfig labels;

  static ResNetConfig from_json(const Json& j, const std::string& where);
  Json to_json() const;
};

// LlamaConfig (transformers' defaults for absent fields). rope_theta from "rope_theta" or, as
// transformers 5 writes it, "rope_parameters": {"rope_theta"}; rope scaling other than "default" is
// refused. num_key_value_heads and head_dim default to num_attention_heads and hidden / heads.
struct LlamaConfig {
  Json raw;
  int64_t vocab_size = 32000, hidden_size = 4096, intermediate_size = 11008, num_hidden_layers = 32;
  int64_t num_attention_heads = 32, num_key_value_heads = 0, head_dim = 0, max_position_embeddings = 2048;
  int64_t pad_token_id = -1, bos_token_id = 1, eos_token_id = 2;
  double rms_norm_eps = 1e-6, rope_theta = 10000.0, attention_dropout = 0.0, initializer_range = 0.02;
  bool attention_bias = false, mlp_bias = false, tie_word_embeddings = false;
  std::string hidden_act = "silu";

  static LlamaConfig from_json(const Json& j, const std::string& where);
  Json to_json() const;
};

// GPT2Config: n_embd, n_layer, n_head, n_positions, n_inner (null: 4 n_embd), activation_function,
// the three dropouts, layer_norm_epsilon; embeddings always tied (GPT2LMHeadModel).
struct Gpt2Config {
  Json raw;
  int64_t vocab_size = 50257, n_positions = 1024, n_embd = 768, n_layer = 12, n_head = 12, n_inner = 0;
  int64_t bos_token_id = 50256, eos_token_id = 50256, pad_token_id = -1;
  std::string activation_function = "gelu_new";
  double resid_pdrop = 0.1, embd_pdrop = 0.1, attn_pdrop = 0.1, layer_norm_epsilon = 1e-5, initializer_range = 0.02;
  bool scale_attn_weights = true, scale_attn_by_inverse_layer_idx = false, reorder_and_upcast_attn = false;

  static Gpt2Config from_json(const Json& j, const std::string& where);
  Json to_json() const;
};

}  // namespace ft::io
