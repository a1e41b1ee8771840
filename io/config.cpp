#include "io/config.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"

namespace ft::io {
namespace {

template <class T>
void get(const Json& j, const char* key, T& out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  try {
    out = it->get<T>();
  } catch (const std::exception&) {
    throw Error(cat(where, ": field '", key, "' has the wrong type (", it->type_name(), ")"));
  }
}

void in_range(const std::string& where, const char* key, int64_t v, int64_t lo, int64_t hi) {
  FT_CHECK(v >= lo && v <= hi, where, ": ", key, " must be between ", lo, " and ", hi, ", got ", v);
}

// A config describing more parameters than the machine's memory holds (in f32, with their
// gradients) is refused before the model is built, instead of exhausting the memory.
void fits_in_memory(const std::string& where, double params) {
  const double memory = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGE_SIZE));
  FT_CHECK(memory <= 0 || params * 8 <= memory, where, ": the configuration describes about ", params / 1e9,
           " billion parameters (", params * 8 / 1e9, " GB with their gradients), more than this machine's ",
           memory / 1e9, " GB of memory");
}

}  // namespace

LabelConfig labels_from(const Json& j, const std::string& where) {
  LabelConfig l;
  if (auto it = j.find("id2label"); it != j.end() && it->is_object()) {
    for (auto& [k, v] : it->items()) {
      FT_CHECK(v.is_string(), where, ": id2label['", k, "'] is not a string");
      try {
        l.id2label[std::stoll(k)] = v.get<std::string>();
      } catch (const std::exception&) {
        throw Error(cat(where, ": id2label key '", k, "' is not an integer"));
      }
    }
  }
  if (auto it = j.find("label2id"); it != j.end() && it->is_object())
    for (auto& [k, v] : it->items()) {
      FT_CHECK(v.is_number_integer(), where, ": label2id['", k, "'] is not an integer");
      l.label2id[k] = v.get<int64_t>();
    }
  get(j, "num_labels", l.num_labels, where);
  in_range(where, "num_labels", l.num_labels, 1, 1 << 20);
  if (!l.id2label.empty()) l.num_labels = static_cast<int64_t>(l.id2label.size());
  get(j, "problem_type", l.problem_type, where);
  if (!l.problem_type.empty())
    FT_CHECK(l.problem_type == "regression" || l.problem_type == "single_label_classification" ||
                 l.problem_type == "multi_label_classification",
             where, ": unknown problem_type '", l.problem_type, "'");
  return l;
}

void labels_to(const LabelConfig& l, Json& j) {
  if (!l.id2label.empty()) {
    Json id2label = Json::object(), label2id = Json::object();
    for (auto& [i, name] : l.id2label) {
      id2label[std::to_string(i)] = name;
      label2id[name] = i;
    }
    j["id2label"] = id2label;
    j["label2id"] = label2id;
  }
  if (!l.problem_type.empty()) j["problem_type"] = l.problem_type;
}

Json read_json(const std::string& path) {
  std::ifstream f(path);
  FT_CHECK(f.good(), path, ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  try {
    return Json::parse(ss.str());
  } catch (const std::exception& e) {
    throw Error(cat(path, ": invalid JSON: ", e.what()));
  }
}

std::string json_error(const std::string& path, const std::exception& e) {
  // "[json.exception.out_of_range.403] (/loader) key 'epoch' not found" -> "at /loader: key ..."
  std::string m = e.what();
  if (m.rfind("[json.exception.", 0) == 0 && m.find("] ") != std::string::npos) m = m.substr(m.find("] ") + 2);
  if (m.size() > 1 && m[0] == '(' && m.find(") ") != std::string::npos) {
    const size_t close = m.find(") ");
    m = "at " + m.substr(1, close - 1) + ": " + m.substr(close + 2);
  }
  return cat(path, ": ", clip(m, 300));
}

void write_json(const std::string& path, const Json& j) {
  write_file_atomically(path, [&](std::ostream& f) { f << j.dump(2) << "\n"; });
}

BertConfig BertConfig::from_json(const Json& j, const std::string& where) {
  FT_CHECK(j.is_object(), where, ": a config must be a JSON object");
  BertConfig c;
  c.raw = j;
  get(j, "vocab_size", c.vocab_size, where);
  get(j, "hidden_size", c.hidden_size, where);
  get(j, "num_hidden_layers", c.num_hidden_layers, where);
  get(j, "num_attention_heads", c.num_attention_heads, where);
  get(j, "intermediate_size", c.intermediate_size, where);
  get(j, "max_position_embeddings", c.max_position_embeddings, where);
  get(j, "type_vocab_size", c.type_vocab_size, where);
  get(j, "pad_token_id", c.pad_token_id, where);
  get(j, "hidden_act", c.hidden_act, where);
  get(j, "position_embedding_type", c.position_embedding_type, where);
  get(j, "hidden_dropout_prob", c.hidden_dropout_prob, where);
  get(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, where);
  get(j, "initializer_range", c.initializer_range, where);
  get(j, "layer_norm_eps", c.layer_norm_eps, where);
  get(j, "classifier_dropout", c.classifier_dropout, where);
  get(j, "architectures", c.architectures, where);
  c.labels = labels_from(j, where);
  // Sizes a model can have: a negative count would build a model without layers, and a huge one
  // would exhaust the memory before any weight is read.
  in_range(where, "vocab_size", c.vocab_size, 1, 1 << 24);
  in_range(where, "hidden_size", c.hidden_size, 1, 1 << 16);
  in_range(where, "num_hidden_layers", c.num_hidden_layers, 1, 1024);
  in_range(where, "num_attention_heads", c.num_attention_heads, 1, c.hidden_size);
  in_range(where, "intermediate_size", c.intermediate_size, 1, 1 << 20);
  in_range(where, "max_position_embeddings", c.max_position_embeddings, 1, 1 << 20);
  in_range(where, "type_vocab_size", c.type_vocab_size, 1, 1 << 16);
  in_range(where, "pad_token_id", c.pad_token_id, 0, c.vocab_size - 1);
  FT_CHECK(c.hidden_size % c.num_attention_heads == 0, where, ": hidden_size ", c.hidden_size,
           " is not a multiple of num_attention_heads ", c.num_attention_heads);
  for (const auto& [name, v] : {std::pair<const char*, double>{"hidden_dropout_prob", c.hidden_dropout_prob},
                                {"attention_probs_dropout_prob", c.attention_probs_dropout_prob}})
    FT_CHECK(v >= 0 && v < 1, where, ": ", name, " must be in [0, 1), got ", v);
  FT_CHECK(c.classifier_dropout < 1, where, ": classifier_dropout must be in [0, 1), got ", c.classifier_dropout);
  FT_CHECK(c.layer_norm_eps > 0 && std::isfinite(c.layer_norm_eps), where, ": layer_norm_eps must be positive");
  FT_CHECK(c.initializer_range >= 0 && std::isfinite(c.initializer_range), where,
           ": initializer_range must be >= 0");
  const double h = static_cast<double>(c.hidden_size);
  fits_in_memory(where, static_cast<double>(c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * h +
                            static_cast<double>(c.num_hidden_layers) *
                                (4 * h * h + 2 * h * static_cast<double>(c.intermediate_size)));
  return c;
}

Json BertConfig::to_json() const {
  Json j = raw.is_object() ? raw : Json::object();
  j["model_type"] = "bert";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["intermediate_size"] = intermediate_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["type_vocab_size"] = type_vocab_size;
  j["pad_token_id"] = pad_token_id;
  j["hidden_act"] = hidden_act;
  j["position_embedding_type"] = position_embedding_type;
  j["hidden_dropout_prob"] = hidden_dropout_prob;
  j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
  j["initializer_range"] = initializer_range;
  j["layer_norm_eps"] = layer_norm_eps;
  if (classifier_dropout >= 0) j["classifier_dropout"] = classifier_dropout;
  if (!architectures.empty()) j["architectures"] = architectures;
  labels_to(labels, j);
  return j;
}

ResNetConfig ResNetConfig::from_json(const Json& j, const std::string& where) {
  FT_CHECK(j.is_object(), where, ": a config must be a JSON object");
  ResNetConfig c;
  c.raw = j;
  get(j, "num_channels", c.num_channels, where);
  get(j, "embedding_size", c.embedding_size, where);
  get(j, "hidden_sizes", c.hidden_sizes, where);
  get(j, "depths", c.depths, where);
  get(j, "layer_type", c.layer_type, where);
  get(j, "hidden_act", c.hidden_act, where);
  get(j, "downsample_in_first_stage", c.downsample_in_first_stage, where);
  get(j, "downsample_in_bottleneck", c.downsample_in_bottleneck, where);
  get(j, "architectures", c.architectures, where);
  c.labels = labels_from(j, where);
  FT_CHECK(c.layer_type == "basic" || c.layer_type == "bottleneck", where, ": layer_type must be basic or bottleneck, got '",
           c.layer_type, "'");
  FT_CHECK(c.hidden_sizes.size() == c.depths.size(), where, ": ", c.hidden_sizes.size(), " hidden_sizes for ",
           c.depths.size(), " depths");
  FT_CHECK(!c.depths.empty() && c.depths.size() <= 16, where, ": depths must list 1 to 16 stages, got ", c.depths.size());
  in_range(where, "num_channels", c.num_channels, 1, 64);
  in_range(where, "embedding_size", c.embedding_size, 1, 1 << 14);
  double params = 49.0 * static_cast<double>(c.num_channels * c.embedding_size);
  double prev = static_cast<double>(c.embedding_size);
  for (size_t i = 0; i < c.depths.size(); ++i) {
    in_range(where, "depths", c.depths[i], 1, 1024);
    in_range(where, "hidden_sizes", c.hidden_sizes[i], 1, 1 << 15);
    const double w = static_cast<double>(c.hidden_sizes[i]);
    params += static_cast<double>(c.depths[i]) * 18 * std::max(w, prev) * w;  // at most two 3x3 convolutions a layer
    prev = w;
  }
  fits_in_memory(where, params);
  return c;
}

Json ResNetConfig::to_json() const {
  Json j = raw.is_object() ? raw : Json::object();
  j["model_type"] = "resnet";
  j["num_channels"] = num_channels;
  j["embedding_size"] = embedding_size;
  j["hidden_sizes"] = hidden_sizes;
  j["depths"] = depths;
  j["layer_type"] = layer_type;
  j["hidden_act"] = hidden_act;
  j["downsample_in_first_stage"] = downsample_in_first_stage;
  j["downsample_in_bottleneck"] = downsample_in_bottleneck;
  if (!architectures.empty()) j["architectures"] = architectures;
  labels_to(labels, j);
  return j;
}

namespace {

// The token ids a causal LM config names: an integer, null (-1), or a list (its first: some configs
// list several EOS ids).
void get_token_id(const Json& j, const char* key, int64_t& out, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (it->is_null()) out = -1;
  else if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) out = (*it)[0].get<int64_t>();
  else get(j, key, out, where);
}

}  // namespace

LlamaConfig LlamaConfig::from_json(const Json& j, const std::string& where) {
  FT_CHECK(j.is_object(), where, ": a config must be a JSON object");
  LlamaConfig c;
  c.raw = j;
  get(j, "vocab_size", c.vocab_size, where);
  get(j, "hidden_size", c.hidden_size, where);
  get(j, "intermediate_size", c.intermediate_size, where);
  get(j, "num_hidden_layers", c.num_hidden_layers, where);
  get(j, "num_attention_heads", c.num_attention_heads, where);
  get(j, "num_key_value_heads", c.num_key_value_heads, where);
  get(j, "head_dim", c.head_dim, where);
  get(j, "max_position_embeddings", c.max_position_embeddings, where);
  get_token_id(j, "pad_token_id", c.pad_token_id, where);
  get_token_id(j, "bos_token_id", c.bos_token_id, where);
  get_token_id(j, "eos_token_id", c.eos_token_id, where);
  get(j, "rms_norm_eps", c.rms_norm_eps, where);
  get(j, "rope_theta", c.rope_theta, where);
  get(j, "attention_dropout", c.attention_dropout, where);
  get(j, "initializer_range", c.initializer_range, where);
  get(j, "attention_bias", c.attention_bias, where);
  get(j, "mlp_bias", c.mlp_bias, where);
  get(j, "tie_word_embeddings", c.tie_word_embeddings, where);
  get(j, "hidden_act", c.hidden_act, where);
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) continue;
    FT_CHECK(it->is_object(), where, ": ", key, " must be an object");
    get(*it, "rope_theta", c.rope_theta, where);
    const std::string type = it->value("rope_type", it->value("type", std::string("default")));
    FT_CHECK(type == "default", where, ": ", key, " of type '", type, "' is not supported (only the default RoPE)");
  }
  if (c.num_key_value_heads == 0) c.num_key_value_heads = c.num_attention_heads;
  in_range(where, "vocab_size", c.vocab_size, 1, 1 << 24);
  in_range(where, "hidden_size", c.hidden_size, 1, 1 << 16);
  in_range(where, "intermediate_size", c.intermediate_size, 1, 1 << 20);
  in_range(where, "num_hidden_layers", c.num_hidden_layers, 1, 1024);
  in_range(where, "num_attention_heads", c.num_attention_heads, 1, c.hidden_size);
  in_range(where, "num_key_value_heads", c.num_key_value_heads, 1, c.num_attention_heads);
  FT_CHECK(c.num_attention_heads % c.num_key_value_heads == 0, where, ": num_attention_heads ", c.num_attention_heads,
           " is not a multiple of num_key_value_heads ", c.num_key_value_heads);
  if (c.head_dim == 0) {
    FT_CHECK(c.hidden_size % c.num_attention_heads == 0, where, ": hidden_size ", c.hidden_size,
             " is not a multiple of num_attention_heads ", c.num_attention_heads);
    c.head_dim = c.hidden_size / c.num_attention_heads;
  }
  in_range(where, "head_dim", c.head_dim, 2, 1024);
  FT_CHECK(c.head_dim % 2 == 0, where, ": head_dim ", c.head_dim, " must be even (rotary halves)");
  in_range(where, "max_position_embeddings", c.max_position_embeddings, 1, 1 << 24);
  in_range(where, "pad_token_id", c.pad_token_id, -1, c.vocab_size - 1);
  FT_CHECK(c.hidden_act == "silu", where, ": hidden_act '", c.hidden_act, "' is not supported (silu is)");
  FT_CHECK(c.rms_norm_eps > 0 && std::isfinite(c.rms_norm_eps), where, ": rms_norm_eps must be positive");
  FT_CHECK(c.rope_theta > 0 && std::isfinite(c.rope_theta), where, ": rope_theta must be positive");
  FT_CHECK(c.attention_dropout >= 0 && c.attention_dropout < 1, where, ": attention_dropout must be in [0, 1)");
  const double h = static_cast<double>(c.hidden_size), hd = static_cast<double>(c.head_dim);
  fits_in_memory(where, static_cast<double>(c.vocab_size) * h * (c.tie_word_embeddings ? 1 : 2) +
                            static_cast<double>(c.num_hidden_layers) *
                                (2 * h * hd * static_cast<double>(c.num_attention_heads + c.num_key_value_heads) +
                                 3 * h * static_cast<double>(c.intermediate_size)));
  return c;
}

Json LlamaConfig::to_json() const {
  Json j = raw.is_object() ? raw : Json::object();
  j["model_type"] = "llama";
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["intermediate_size"] = intermediate_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_key_value_heads"] = num_key_value_heads;
  j["head_dim"] = head_dim;
  j["max_position_embeddings"] = max_position_embeddings;
  j["rms_norm_eps"] = rms_norm_eps;
  j["rope_theta"] = rope_theta;
  j["tie_word_embeddings"] = tie_word_embeddings;
  return j;
}

Gpt2Config Gpt2Config::from_json(const Json& j, const std::string& where) {
  FT_CHECK(j.is_object(), where, ": a config must be a JSON object");
  Gpt2Config c;
  c.raw = j;
  get(j, "vocab_size", c.vocab_size, where);
  get(j, "n_positions", c.n_positions, where);
  get(j, "n_embd", c.n_embd, where);
  get(j, "n_layer", c.n_layer, where);
  get(j, "n_head", c.n_head, where);
  get(j, "n_inner", c.n_inner, where);
  get_token_id(j, "bos_token_id", c.bos_token_id, where);
  get_token_id(j, "eos_token_id", c.eos_token_id, where);
  get_token_id(j, "pad_token_id", c.pad_token_id, where);
  get(j, "activation_function", c.activation_function, where);
  get(j, "resid_pdrop", c.resid_pdrop, where);
  get(j, "embd_pdrop", c.embd_pdrop, where);
  get(j, "attn_pdrop", c.attn_pdrop, where);
  get(j, "layer_norm_epsilon", c.layer_norm_epsilon, where);
  get(j, "initializer_range", c.initializer_range, where);
  get(j, "scale_attn_weights", c.scale_attn_weights, where);
  get(j, "scale_attn_by_inverse_layer_idx", c.scale_attn_by_inverse_layer_idx, where);
  get(j, "reorder_and_upcast_attn", c.reorder_and_upcast_attn, where);
  if (c.n_inner == 0) c.n_inner = 4 * c.n_embd;
  in_range(where, "vocab_size", c.vocab_size, 1, 1 << 24);
  in_range(where, "n_embd", c.n_embd, 1, 1 << 16);
  in_range(where, "n_layer", c.n_layer, 1, 1024);
  in_range(where, "n_head", c.n_head, 1, c.n_embd);
  in_range(where, "n_inner", c.n_inner, 1, 1 << 20);
  in_range(where, "n_positions", c.n_positions, 1, 1 << 20);
  FT_CHECK(c.n_embd % c.n_head == 0, where, ": n_embd ", c.n_embd, " is not a multiple of n_head ", c.n_head);
  FT_CHECK(c.activation_function == "gelu_new" || c.activation_function == "gelu" ||
               c.activation_function == "gelu_pytorch_tanh",
           where, ": activation_function '", c.activation_function, "' is not supported (gelu_new, gelu)");
  FT_CHECK(c.scale_attn_weights && !c.scale_attn_by_inverse_layer_idx && !c.reorder_and_upcast_attn, where,
           ": GPT-2 attention scaling options other than the default are not supported");
  for (double p : {c.resid_pdrop, c.embd_pdrop, c.attn_pdrop})
    FT_CHECK(p >= 0 && p < 1, where, ": dropout probabilities must be in [0, 1), got ", p);
  FT_CHECK(c.layer_norm_epsilon > 0, where, ": layer_norm_epsilon must be positive");
  const double h = static_cast<double>(c.n_embd);
  fits_in_memory(where, static_cast<double>(c.vocab_size + c.n_positions) * h +
                            static_cast<double>(c.n_layer) * (4 * h * h + 2 * h * static_cast<double>(c.n_inner)));
  return c;
}

Json Gpt2Config::to_json() const {
  Json j = raw.is_object() ? raw : Json::object();
  j["model_type"] = "gpt2";
  j["vocab_size"] = vocab_size;
  j["n_positions"] = n_positions;
  j["n_embd"] = n_embd;
  j["n_layer"] = n_layer;
  j["n_head"] = n_head;
  return j;
}

}  // namespace ft::io
