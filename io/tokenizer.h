// Tokenizers as the Rust `tokenizers` library runs a tokenizer.json
// (../shared/reference/hf-reference.md section 3), in two parts:
// - the model (TokenModel): normalizer, pre-tokenizer, model and decoder of one family.
//   WordPiece (io/wordpiece.cpp): BertNormalizer, BertPreTokenizer, greedy longest-match WordPiece.
//   Byte-level BPE (io/bpe.cpp): GPT-2's pre-tokenizer regex (optionally after splitting digits one
//   by one, as SmolLM2's Sequence[Digits, ByteLevel] does), the merges by rank, the ByteLevel decoder.
// - what every family shares (Tokenizer, here): added (special) tokens matched on the raw text, the
//   post-processor's template of special tokens (BertProcessing, TemplateProcessing, ByteLevel),
//   truncation (longest_first, only_first, only_second) and padding (longest or fixed length).
// Also loads a BERT vocab.txt + tokenizer_config.json. Unicode properties come from utf8proc.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ft::io {

struct Encoding {
  std::vector<int64_t> ids, type_ids, attention_mask;
};

struct TruncationConfig {
  int64_t max_length = 512;
  std::string strategy = "longest_first";  // or only_first, only_second
};

struct PaddingConfig {
  int64_t fixed_length = 0;  // 0: pad to the longest in the batch
  int64_t pad_to_multiple_of = 0;
  int64_t pad_id = 0, pad_type_id = 0;
};

struct Vocab {
  std::unordered_map<std::string, int64_t> ids;
  std::vector<std::string> tokens;  // by id
  int64_t id(const std::string& token) const {
    auto it = ids.find(token);
    return it == ids.end() ? -1 : it->second;
  }
};

// One family's normalizer + pre-tokenizer + model + decoder, immutable once built.
class TokenModel {
 public:
  virtual ~TokenModel() = default;
  virtual const char* type() const = 0;  // "WordPiece", "BPE"
  // Whether the normalizer changes text (added tokens marked `normalized` are then not supported).
  virtual bool normalizes() const = 0;
  // Appends the ids of a span of text that holds no added token.
  virtual void encode(const std::string& text, std::vector<int64_t>& ids) const = 0;
  // The words after the normalizer and the pre-tokenizer: what the PyPI package's
  // pre_tokenize_str(normalize_str(text)) gives.
  virtual std::vector<std::string> pre_tokenize(const std::string& text) const = 0;
  // The decoder on the tokens of a sequence (specials already removed when asked).
  virtual std::string decode(const std::vector<std::string>& tokens) const = 0;
  Vocab vocab;
};

// The post-processor's template: the special tokens around sequence A (and B), with type ids.
struct TemplatePiece {
  int64_t special = -1;  // a token id, or -1 for the sequence itself
  int sequence = 0;      // 0: A, 1: B (when special < 0)
  int64_t type_id = 0;
};
struct PostProcessor {
  std::vector<TemplatePiece> single{{-1, 0, 0}}, pair{{-1, 0, 0}, {-1, 1, 1}};
  int64_t added(bool with_pair) const;  // special tokens it adds
};

class Tokenizer {
 public:
  // A tokenizer.json, or a directory holding tokenizer.json (preferred) or vocab.txt (with
  // tokenizer_config.json for do_lower_case). The file's own truncation and padding apply. A model
  // type other than WordPiece and BPE is an error naming it.
  static Tokenizer from_path(const std::string& path);
  // A BERT WordPiece tokenizer over a vocabulary ([UNK], [CLS] and [SEP] required).
  static Tokenizer from_vocab(const std::vector<std::string>& vocab, bool lowercase);

  Encoding encode(const std::string& text, const std::string* pair = nullptr, bool add_special_tokens = true) const;
  // Encodes in parallel over threads, then pads the batch (padding applies to batches and singles).
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts,
                                     const std::vector<std::string>* pairs = nullptr) const;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

  void set_truncation(std::optional<TruncationConfig> t) { truncation_ = std::move(t); }
  void set_padding(std::optional<PaddingConfig> p) { padding_ = std::move(p); }
  void set_strip_accents(bool strip);  // BertNormalizer's strip_accents (WordPiece only)
  const std::optional<TruncationConfig>& truncation() const { return truncation_; }
  const char* model_type() const { return model_->type(); }
  int64_t vocab_size() const { return static_cast<int64_t>(model_->vocab.tokens.size()); }
  int64_t token_id(const std::string& token) const { return model_->vocab.id(token); }  // -1 when absent
  const std::string& id_to_token(int64_t id) const;
  bool is_special(int64_t id) const { return id >= 0 && id < vocab_size() && special_[static_cast<size_t>(id)]; }
  // The tokens of one text, without specials: for tests.
  std::vector<std::string> tokenize(const std::string& text) const;
  std::vector<std::string> pre_tokenize(const std::string& text) const { return model_->pre_tokenize(text); }

 private:
  static Tokenizer from_tokenizer_json(const nlohmann::json& j, const std::string& json_path);
  std::vector<int64_t> encode_text(const std::string& text) const;
  void pad(std::vector<Encoding>& batch) const;

  std::shared_ptr<const TokenModel> model_;
  std::vector<std::pair<std::string, int64_t>> added_;  // raw-text matched tokens, longest first
  std::vector<bool> special_;                           // per id: skipped by decode
  PostProcessor post_;
  std::optional<TruncationConfig> truncation_;
  std::optional<PaddingConfig> padding_;
};

}  // namespace ft::io
