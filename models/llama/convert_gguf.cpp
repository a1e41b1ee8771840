#include "models/llama/convert_gguf.h"

#include <filesystem>
#include <map>
#include <unordered_set>

#include "core/error.h"
#include "io/config.h"
#include "io/gguf.h"
#include "io/safetensors.h"

namespace ft::models {
namespace {

const io::Json& required(const io::GgufReader& r, const std::string& key) {
  FT_CHECK(r.metadata().contains(key), r.path(), ": metadata key '", key, "' is missing");
  return r.metadata()[key];
}

int64_t required_int(const io::GgufReader& r, const std::string& key) {
  const io::Json& v = required(r, key);
  FT_CHECK(v.is_number_integer() && v.get<int64_t>() > 0, r.path(), ": metadata key '", key,
           "' is not a positive integer");
  return v.get<int64_t>();
}

double optional_number(const io::GgufReader& r, const std::string& key, double fallback) {
  if (!r.metadata().contains(key)) return fallback;
  const io::Json& v = r.metadata()[key];
  FT_CHECK(v.is_number(), r.path(), ": metadata key '", key, "' is not a number");
  return v.get<double>();
}

int64_t optional_id(const io::GgufReader& r, const std::string& key, int64_t vocab) {
  if (!r.metadata().contains(key)) return -1;
  const io::Json& v = r.metadata()[key];
  FT_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < vocab, r.path(), ": metadata key '",
           key, "' is not a token id below the vocabulary size ", vocab);
  return v.get<int64_t>();
}

// llama.cpp's name for each LlamaForCausalLM tensor (per layer with "blk.N.").
const std::pair<const char*, const char*> kLayerNames[] = {
    {"attn_norm.weight", "input_layernorm.weight"},  {"ffn_norm.weight", "post_attention_layernorm.weight"},
    {"attn_q.weight", "self_attn.q_proj.weight"},    {"attn_k.weight", "self_attn.k_proj.weight"},
    {"attn_v.weight", "self_attn.v_proj.weight"},    {"attn_output.weight", "self_attn.o_proj.weight"},
    {"ffn_gate.weight", "mlp.gate_proj.weight"},     {"ffn_up.weight", "mlp.up_proj.weight"},
    {"ffn_down.weight", "mlp.down_proj.weight"},
};

std::string hf_name(const std::string& gguf_name, const std::string& path) {
  if (gguf_name == "token_embd.weight") return "model.embed_tokens.weight";
  if (gguf_name == "output_norm.weight") return "model.norm.weight";
  if (gguf_name == "output.weight") return "lm_head.weight";
  if (gguf_name.rfind("blk.", 0) == 0) {
    const size_t dot = gguf_name.find('.', 4);
    if (dot != std::string::npos) {
      const std::string layer = gguf_name.substr(4, dot - 4), rest = gguf_name.substr(dot + 1);
      for (auto& [from, to] : kLayerNames)
        if (rest == from) return "model.layers." + layer + "." + to;
    }
  }
  throw Error(cat(path, ": tensor '", gguf_name, "' has no LlamaForCausalLM counterpart"));
}

// llama.cpp stores each head's rows of q_proj/k_proj with the two rotary halves interleaved
// (row h*d + 2i + s holds Hugging Face's row h*d + s*d/2 + i); this puts them back.
Tensor unpermute_rows(const Tensor& w, int64_t heads) {
  const int64_t out = w.shape()[0], in = w.shape()[1];
  return w.reshape({heads, out / heads / 2, 2, in}).transpose(1, 2).contiguous().reshape({out, in});
}

io::Json byte_level(bool prefix_space, bool trim_offsets) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", prefix_space}, {"trim_offsets", trim_offsets},
          {"use_regex", true}};
}

// tokenizer.json (the `tokenizers` format) of a byte-level BPE vocabulary stored in the metadata.
io::Json tokenizer_json(const io::GgufReader& r, int64_t bos, bool add_bos) {
  const std::string model = required(r, "tokenizer.ggml.model").get<std::string>();
  FT_CHECK(model == "gpt2", r.path(), ": tokenizer.ggml.model is '", model,
           "'; ftrain converts byte-level BPE vocabularies ('gpt2'), not SentencePiece ('llama') or others");
  const std::string pre = r.metadata().value("tokenizer.ggml.pre", std::string("default"));
  io::Json pre_tokenizer;
  if (pre == "default" || pre == "gpt2") {
    pre_tokenizer = byte_level(false, true);
  } else if (pre == "smollm" || pre == "starcoder" || pre == "refact") {
    pre_tokenizer = {{"type", "Sequence"},
                     {"pretokenizers", io::Json::array({{{"type", "Digits"}, {"individual_digits", true}},
                                                        byte_level(false, true)})}};
  } else {
    throw Error(cat(r.path(), ": tokenizer.ggml.pre is '", pre,
                    "'; ftrain converts the 'gpt2' and 'smollm' pre-tokenizers"));
  }
  const io::Json& tokens = required(r, "tokenizer.ggml.tokens");
  const io::Json& merges = required(r, "tokenizer.ggml.merges");
  FT_CHECK(tokens.is_array() && merges.is_array(), r.path(), ": tokenizer.ggml.tokens and merges must be arrays");
  const io::Json types = r.metadata().value("tokenizer.ggml.token_type", io::Json::array());
  io::Json vocab = io::Json::object(), added = io::Json::array(), pairs = io::Json::array();
  std::unordered_set<std::string> seen;  // (ordered_json's lookups are linear)
  for (size_t i = 0; i < tokens.size(); ++i) {
    FT_CHECK(tokens[i].is_string(), r.path(), ": tokenizer.ggml.tokens[", i, "] is not a string");
    const std::string& tok = tokens[i].get_ref<const std::string&>();
    FT_CHECK(seen.insert(tok).second, r.path(), ": token '", clip(tok, 40), "' appears twice (again at id ", i, ")");
    vocab[tok] = i;
    // Token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    const int type = i < types.size() && types[i].is_number_integer() ? types[i].get<int>() : 1;
    if (type == 3 || type == 4)
      added.push_back({{"id", i}, {"content", tok}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                       {"normalized", type == 4}, {"special", type == 3}});
  }
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string m = merges[i].is_string() ? merges[i].get<std::string>() : std::string();
    const size_t space = m.find(' ');
    FT_CHECK(space != std::string::npos && space > 0 && space + 1 < m.size() && m.find(' ', space + 1) == std::string::npos,
             r.path(), ": tokenizer.ggml.merges[", i, "] is not two tokens separated by one space: '", clip(m, 40), "'");
    pairs.push_back({m.substr(0, space), m.substr(space + 1)});
  }
  io::Json post = byte_level(true, false);
  if (add_bos) {
    const std::string b = tokens[bos].get<std::string>();
    post = {{"type", "TemplateProcessing"},
            {"single", {{{"SpecialToken", {{"id", b}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
            {"pair",
             {{{"SpecialToken", {{"id", b}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
              {{"SpecialToken", {{"id", b}, {"type_id", 1}}}}, {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
            {"special_tokens", {{b, {{"id", b}, {"ids", {bos}}, {"tokens", {b}}}}}}};
  }
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", added},
          {"normalizer", nullptr},
          {"pre_tokenizer", pre_tokenizer},
          {"post_processor", post},
          {"decoder", byte_level(true, true)},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
            {"ignore_merges", false}, {"vocab", vocab}, {"merges", pairs}}}};
}

}  // namespace

GgufConversion convert_gguf(const std::string& gguf_path, const std::string& output_dir) {
  const io::GgufReader r(gguf_path);
  GgufConversion out;
  out.architecture = required(r, "general.architecture").get<std::string>();
  FT_CHECK(out.architecture == "llama", gguf_path, ": general.architecture is '", out.architecture,
           "'; ftrain converts the llama architecture (Llama, SmolLM2 and others built like them)");
  out.name = r.metadata().value("general.name", std::string());
  const int64_t layers = required_int(r, "llama.block_count"), hidden = required_int(r, "llama.embedding_length");
  const int64_t heads = required_int(r, "llama.attention.head_count");
  const int64_t kv_heads = r.metadata().contains("llama.attention.head_count_kv")
                               ? required_int(r, "llama.attention.head_count_kv") : heads;
  FT_CHECK(hidden % heads == 0 && heads % kv_heads == 0, gguf_path, ": hidden size ", hidden, ", ", heads,
           " heads and ", kv_heads, " key/value heads do not divide");
  const int64_t head_dim = r.metadata().contains("llama.attention.key_length")
                               ? required_int(r, "llama.attention.key_length") : hidden / heads;
  if (r.metadata().contains("llama.rope.dimension_count"))
    FT_CHECK(required_int(r, "llama.rope.dimension_count") == head_dim, gguf_path,
             ": rotary embedding on part of each head (llama.rope.dimension_count ",
             required_int(r, "llama.rope.dimension_count"), " of ", head_dim, ") is not supported");
  FT_CHECK(!r.metadata().contains("llama.rope.scaling.type") ||
               r.metadata()["llama.rope.scaling.type"] == "none",
           gguf_path, ": rope scaling (llama.rope.scaling.type) is not supported");
  const io::Json& tokens = required(r, "tokenizer.ggml.tokens");
  out.vocab_size = tokens.is_array() ? static_cast<int64_t>(tokens.size()) : 0;
  FT_CHECK(out.vocab_size > 0, gguf_path, ": tokenizer.ggml.tokens is empty");

  // Every tensor's type and name is checked before anything is written.
  const bool tied = r.find("output.weight") == nullptr;
  for (const io::GgufTensorInfo& t : r.tensors()) {
    if (t.name == "rope_freqs.weight") continue;  // computed from rope_theta
    FT_CHECK(io::ggml_type_supported(t.type), gguf_path, ": tensor '", t.name, "' has type ",
             io::ggml_type_name(t.type), "; ftrain converts F32, F16, BF16, Q8_0, Q4_0 and Q4_1");
    hf_name(t.name, gguf_path);
  }
  const io::GgufTensorInfo* embed = r.find("token_embd.weight");
  FT_CHECK(embed && embed->shape() == Shape({out.vocab_size, hidden}), gguf_path,
           ": token_embd.weight must be [", out.vocab_size, ", ", hidden, "] (vocabulary x hidden)");

  std::map<std::string, Tensor> tensors;
  for (const io::GgufTensorInfo& t : r.tensors()) {
    if (t.name == "rope_freqs.weight") continue;
    Tensor w = r.load_f32(t.name);
    const bool q = t.name.find(".attn_q.weight") != std::string::npos;
    const bool k = t.name.find(".attn_k.weight") != std::string::npos;
    if (q || k) {
      const int64_t h = q ? heads : kv_heads;
      FT_CHECK(w.dim() == 2 && w.shape()[0] == h * head_dim, gguf_path, ": tensor '", t.name, "' has shape ",
               shape_str(w.shape()), ", not ", h * head_dim, " rows");
      w = unpermute_rows(w, h);
    }
    out.parameters += w.numel();
    tensors[hf_name(t.name, gguf_path)] = w;
  }
  for (int64_t i = 0; i < layers; ++i)
    for (auto& [from, to] : kLayerNames)
      FT_CHECK(tensors.count("model.layers." + std::to_string(i) + "." + to), gguf_path, ": tensor 'blk.", i, ".",
               from, "' is missing");
  out.tensors = static_cast<int64_t>(tensors.size());

  const int64_t bos = optional_id(r, "tokenizer.ggml.bos_token_id", out.vocab_size);
  const int64_t eos = optional_id(r, "tokenizer.ggml.eos_token_id", out.vocab_size);
  const int64_t unk = optional_id(r, "tokenizer.ggml.unknown_token_id", out.vocab_size);
  const int64_t pad = optional_id(r, "tokenizer.ggml.padding_token_id", out.vocab_size);
  const bool add_bos = r.metadata().value("tokenizer.ggml.add_bos_token", false) && bos >= 0;
  const io::Json tokenizer = tokenizer_json(r, bos, add_bos);
  const int64_t context = required_int(r, "llama.context_length");
  auto id_or_null = [](int64_t id) { return id >= 0 ? io::Json(id) : io::Json(nullptr); };
  io::Json config = {{"architectures", {"LlamaForCausalLM"}},
                     {"model_type", "llama"},
                     {"attention_bias", false},
                     {"attention_dropout", 0.0},
                     {"bos_token_id", id_or_null(bos)},
                     {"eos_token_id", id_or_null(eos)},
                     {"pad_token_id", id_or_null(pad)},
                     {"head_dim", head_dim},
                     {"hidden_act", "silu"},
                     {"hidden_size", hidden},
                     {"initializer_range", 0.02},
                     {"intermediate_size", required_int(r, "llama.feed_forward_length")},
                     {"max_position_embeddings", context},
                     {"mlp_bias", false},
                     {"num_attention_heads", heads},
                     {"num_hidden_layers", layers},
                     {"num_key_value_heads", kv_heads},
                     {"rms_norm_eps", optional_number(r, "llama.attention.layer_norm_rms_epsilon", 1e-6)},
                     {"rope_scaling", nullptr},
                     {"rope_theta", optional_number(r, "llama.rope.freq_base", 10000.0)},
                     {"tie_word_embeddings", tied},
                     {"torch_dtype", "float32"},
                     {"use_cache", true},
                     {"vocab_size", out.vocab_size}};
  auto token = [&](int64_t id) { return id >= 0 ? io::Json(tokens[id]) : io::Json(nullptr); };
  io::Json tok_config = {{"add_bos_token", add_bos},   {"add_eos_token", false},
                         {"add_prefix_space", false},  {"bos_token", token(bos)},
                         {"eos_token", token(eos)},    {"unk_token", token(unk)},
                         {"pad_token", token(pad)},    {"clean_up_tokenization_spaces", false},
                         {"model_max_length", context}, {"tokenizer_class", "GPT2Tokenizer"}};
  if (r.metadata().contains("tokenizer.chat_template")) tok_config["chat_template"] = r.metadata()["tokenizer.chat_template"];
  io::Json generation = {{"bos_token_id", id_or_null(bos)}, {"eos_token_id", id_or_null(eos)}};
  if (pad >= 0) generation["pad_token_id"] = pad;

  std::error_code ec;
  std::filesystem::create_directories(output_dir, ec);
  FT_CHECK(!ec, output_dir, ": cannot create the directory: ", ec.message());
  io::write_safetensors(output_dir + "/model.safetensors", tensors, {{"format", "pt"}});
  io::write_json(output_dir + "/tokenizer.json", tokenizer);
  io::write_json(output_dir + "/tokenizer_config.json", tok_config);
  io::write_json(output_dir + "/generation_config.json", generation);
  io::write_json(output_dir + "/config.json", config);  // last: a directory with config.json is complete
  return out;
}

}  // namespace ft::models
