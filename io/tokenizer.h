// BERT WordPiece tokenization as the Rust `tokenizers` library does it for a tokenizer.json
// (../shared/reference/hf-reference.md section 3): added (special) tokens matched on the raw text,
// BertNormalizer (clean text, CJK spacing, accents stripped through NFD, lowercase), BertPreTokenizer
// (whitespace and punctuation), greedy longest-match WordPiece, the [CLS] A [SEP] (B [SEP]) template,
// truncation (longest_first, only_first, only_second) and padding (longest or fixed length).
// Also loads vocab.txt + tokenizer_config.json. Unicode properties come from utf8proc.
#pragma once
#include <cstdint>
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

class WordPieceTokenizer {
 public:
  // A tokenizer.json, or a directory holding tokenizer.json (preferred) or vocab.txt (with
  // tokenizer_config.json for do_lower_case). The file's own truncation and padding apply.
  static WordPieceTokenizer from_path(const std::string& path);
  static WordPieceTokenizer from_vocab(const std::vector<std::string>& vocab, bool lowercase);

  Encoding encode(const std::string& text, const std::string* pair = nullptr, bool add_special_tokens = true) const;
  // Encodes in parallel over threads, then pads the batch (padding applies to batches and singles).
  std::vector<Encoding> encode_batch(const std::vector<std::string>& texts,
                                     const std::vector<std::string>* pairs = nullptr) const;
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

  void set_truncation(std::optional<TruncationConfig> t) { truncation_ = std::move(t); }
  void set_padding(std::optional<PaddingConfig> p) { padding_ = std::move(p); }
  void set_strip_accents(bool strip) { strip_accents_ = strip; }  // BertNormalizer's strip_accents
  const std::optional<TruncationConfig>& truncation() const { return truncation_; }
  int64_t vocab_size() const { return static_cast<int64_t>(id_to_token_.size()); }
  int64_t token_id(const std::string& token) const;  // -1 when absent
  const std::string& id_to_token(int64_t id) const;
  // The pieces (normalized, pre-tokenized, WordPiece'd) of one text, without specials: for tests.
  std::vector<std::string> tokenize(const std::string& text) const;
  // The words of a text after the normalizer and the pre-tokenizer (no added-token matching): what
  // the PyPI package's pre_tokenize_str(normalize_str(text)) gives.
  std::vector<std::string> pre_tokenize(const std::string& text) const;

 private:
  static WordPieceTokenizer from_tokenizer_json(const nlohmann::json& j, const std::string& json_path);
  std::vector<int64_t> encode_text(const std::string& text) const;
  std::vector<std::u32string> words(const std::string& raw) const;
  void pad(std::vector<Encoding>& batch) const;

  std::unordered_map<std::string, int64_t> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<std::pair<std::string, int64_t>> added_;  // raw-text matched tokens, longest first
  std::vector<bool> special_;                           // per id: skipped by decode
  bool clean_text_ = true, chinese_chars_ = true, strip_accents_ = true, lowercase_ = true;
  int64_t unk_id_ = 100, cls_id_ = 101, sep_id_ = 102;
  std::string prefix_ = "##";
  int64_t max_chars_ = 100;
  std::optional<TruncationConfig> truncation_;
  std::optional<PaddingConfig> padding_;
};

}  // namespace ft::io
