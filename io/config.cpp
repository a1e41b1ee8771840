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

}  // namespace

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

}  // namespace ft::io
