#include "io/tokenizer.h"

#include <sys/stat.h>
#include <utf8proc.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "io/config.h"
#include "io/unicode_bert_tables.inc"

namespace ft::io {
namespace {

using RawJson = nlohmann::json;

// ---- Unicode: UTF-8 through utf8proc, the Rust library's character classes from generated tables ----

std::u32string decode_utf8(const std::string& s) {
  std::u32string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {  // invalid byte: U+FFFD, as a lossy decode gives
      cp = 0xFFFD;
      n = 1;
    }
    out.push_back(static_cast<char32_t>(cp));
    p += n;
    left -= n;
  }
  return out;
}

std::string encode_utf8(const std::u32string& s) {
  std::string out;
  utf8proc_uint8_t buf[4];
  for (char32_t c : s) {
    const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  }
  return out;
}

// The BERT normalizer's and pre-tokenizer's character classes are the PyPI tokenizers package's, read
// off the package for every code point (io/unicode_bert_tables.inc, tests/golden/gen_unicode_classes.py):
// its Rust crates each carry their own Unicode version (an old one for the general categories, a newer
// one for lowercasing), so no Unicode database -- utf8proc's included -- gives the same answers. The
// test tests/io/test_unicode_classes.cpp checks the whole pipeline against the package on every code point.
template <size_t N>
bool in(const unicode_bert::Range (&table)[N], char32_t c) {
  const auto* it = std::upper_bound(table, table + N, c, [](char32_t v, const unicode_bert::Range& r) { return v < r.first; });
  return it != table && c <= (it - 1)->last;
}

template <size_t N>
const char32_t* mapped(const unicode_bert::Mapping (&table)[N], char32_t c) {
  const auto* it = std::lower_bound(table, table + N, c, [](const unicode_bert::Mapping& m, char32_t v) { return m.from < v; });
  return it != table + N && it->from == c ? it->to : nullptr;
}

int combining_class(char32_t c) {
  const auto& t = unicode_bert::kCombiningClass;
  const auto* it = std::upper_bound(std::begin(t), std::end(t), c,
                                    [](char32_t v, const unicode_bert::ClassRange& r) { return v < r.first; });
  return it != std::begin(t) && c <= (it - 1)->last ? (it - 1)->combining_class : 0;
}

bool is_whitespace(char32_t c) { return in(unicode_bert::kWhitespace, c); }
bool is_removed(char32_t c) { return in(unicode_bert::kRemoved, c); }  // clean_text: controls, U+0000, U+FFFD
bool is_punctuation(char32_t c) { return in(unicode_bert::kPunctuation, c); }
bool is_nonspacing_mark(char32_t c) { return in(unicode_bert::kNonspacingMark, c); }

bool is_chinese(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Canonical decomposition (NFD): each character's full decomposition (Hangul syllables by the
// algorithm of Unicode section 3.12), then canonical ordering: within each run of characters of
// non-zero combining class, a stable sort by class.
std::u32string nfd(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (char32_t c : s) {
    if (c >= 0xAC00 && c <= 0xD7A3) {
      const char32_t i = c - 0xAC00;
      out += static_cast<char32_t>(0x1100 + i / 588);
      out += static_cast<char32_t>(0x1161 + (i % 588) / 28);
      if (i % 28) out += static_cast<char32_t>(0x11A7 + i % 28);
    } else if (const char32_t* d = mapped(unicode_bert::kDecomposition, c)) {
      for (int k = 0; k < 4 && d[k]; ++k) out += d[k];
    } else {
      out += c;
    }
  }
  for (size_t i = 0; i < out.size();) {
    size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    if (j - i > 1)
      std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j + 1;
  }
  return out;
}

// Per-character lowercase (Rust's char::to_lowercase: no context, some characters become several).
void append_lower(char32_t c, std::u32string& out) {
  if (const char32_t* l = mapped(unicode_bert::kLowercase, c)) {
    for (int k = 0; k < 4 && l[k]; ++k) out += l[k];
  } else {
    out += c;
  }
}

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

// ---- construction ----

WordPieceTokenizer WordPieceTokenizer::from_vocab(const std::vector<std::string>& vocab, bool lowercase) {
  WordPieceTokenizer t;
  t.id_to_token_ = vocab;
  for (size_t i = 0; i < vocab.size(); ++i) t.vocab_.emplace(vocab[i], static_cast<int64_t>(i));
  t.lowercase_ = t.strip_accents_ = lowercase;
  t.special_.assign(vocab.size(), false);
  for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    const int64_t id = t.token_id(s);
    if (id >= 0) {
      t.added_.emplace_back(s, id);
      t.special_[id] = true;
    }
  }
  t.unk_id_ = t.token_id("[UNK]");
  t.cls_id_ = t.token_id("[CLS]");
  t.sep_id_ = t.token_id("[SEP]");
  FT_CHECK(t.unk_id_ >= 0 && t.cls_id_ >= 0 && t.sep_id_ >= 0, "vocabulary lacks [UNK], [CLS] or [SEP]");
  std::sort(t.added_.begin(), t.added_.end(), [](auto& a, auto& b) { return a.first.size() > b.first.size(); });
  return t;
}

WordPieceTokenizer WordPieceTokenizer::from_path(const std::string& path) {
  std::string json_path = path;
  if (!file_exists(path)) {
    json_path = path + "/tokenizer.json";
    if (!file_exists(json_path)) {
      const std::string vocab_path = path + "/vocab.txt";
      FT_CHECK(file_exists(vocab_path), path, ": no tokenizer.json or vocab.txt");
      std::ifstream f(vocab_path);
      std::vector<std::string> vocab;
      std::string line;
      while (std::getline(f, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        vocab.push_back(line);
      }
      bool lower = true;
      if (file_exists(path + "/tokenizer_config.json")) {
        std::ifstream c(path + "/tokenizer_config.json");
        const RawJson j = RawJson::parse(c, nullptr, false);
        if (j.is_object() && j.contains("do_lower_case") && j["do_lower_case"].is_boolean())
          lower = j["do_lower_case"].get<bool>();
      }
      return from_vocab(vocab, lower);
    }
  }
  std::ifstream f(json_path);
  FT_CHECK(f.good(), json_path, ": cannot open");
  RawJson j;
  try {
    j = RawJson::parse(f);
  } catch (const std::exception& e) {
    throw Error(cat(json_path, ": invalid JSON: ", e.what()));
  }
  FT_CHECK(j.is_object(), json_path, ": expected a JSON object (a tokenizer), found ", j.type_name());
  return read_fields(json_path, [&] { return from_tokenizer_json(j, json_path); });
}

WordPieceTokenizer WordPieceTokenizer::from_tokenizer_json(const nlohmann::json& j, const std::string& json_path) {
  const RawJson& model = j.at("model");
  FT_CHECK(model.value("type", std::string("WordPiece")) == "WordPiece", json_path, ": model type '",
           model.value("type", std::string()), "' is not WordPiece");
  std::vector<std::string> vocab(model.at("vocab").size());
  for (auto& [tok, id] : model.at("vocab").items()) {
    const int64_t i = id.get<int64_t>();
    FT_CHECK(i >= 0 && i < static_cast<int64_t>(vocab.size()), json_path, ": vocab id ", i, " out of range");
    vocab[i] = tok;
  }
  WordPieceTokenizer t = from_vocab(vocab, true);
  t.added_.clear();
  t.special_.assign(vocab.size(), false);
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const RawJson& a : j["added_tokens"]) {
      const int64_t id = a.at("id").get<int64_t>();
      FT_CHECK(id >= 0 && id < static_cast<int64_t>(vocab.size()), json_path, ": added token id ", id, " out of range");
      FT_CHECK(!a.value("normalized", false) && !a.value("single_word", false) && !a.value("lstrip", false) &&
                   !a.value("rstrip", false),
               json_path, ": added token '", a.value("content", std::string()), "' uses options ftrain does not support");
      t.added_.emplace_back(a.at("content").get<std::string>(), id);
      t.special_[id] = a.value("special", false);
    }
  std::sort(t.added_.begin(), t.added_.end(), [](auto& a, auto& b) { return a.first.size() > b.first.size(); });
  t.unk_id_ = t.token_id(model.value("unk_token", std::string("[UNK]")));
  t.prefix_ = model.value("continuing_subword_prefix", std::string("##"));
  t.max_chars_ = model.value("max_input_chars_per_word", int64_t{100});
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    const RawJson& n = j["normalizer"];
    FT_CHECK(n.value("type", std::string()) == "BertNormalizer", json_path, ": normalizer '", n.value("type", std::string()),
             "' is not supported (BertNormalizer is)");
    t.clean_text_ = n.value("clean_text", true);
    t.chinese_chars_ = n.value("handle_chinese_chars", true);
    t.lowercase_ = n.value("lowercase", true);
    t.strip_accents_ = n.contains("strip_accents") && !n["strip_accents"].is_null() ? n["strip_accents"].get<bool>()
                                                                                      : t.lowercase_;
  }
  if (j.contains("post_processor") && !j["post_processor"].is_null()) {
    const RawJson& p = j["post_processor"];
    const std::string type = p.value("type", std::string());
    if (type == "BertProcessing") {
      t.cls_id_ = p.at("cls").at(1).get<int64_t>();
      t.sep_id_ = p.at("sep").at(1).get<int64_t>();
    } else {
      FT_CHECK(type == "TemplateProcessing", json_path, ": post_processor '", type, "' is not supported");
      t.cls_id_ = p.at("special_tokens").at("[CLS]").at("ids").at(0).get<int64_t>();
      t.sep_id_ = p.at("special_tokens").at("[SEP]").at("ids").at(0).get<int64_t>();
    }
  }
  FT_CHECK(t.unk_id_ >= 0, json_path, ": the unknown token is not in the vocabulary");
  if (j.contains("truncation") && j["truncation"].is_object()) {
    const RawJson& tr = j["truncation"];
    std::string s = tr.value("strategy", std::string("LongestFirst"));
    s = s == "OnlyFirst" ? "only_first" : s == "OnlySecond" ? "only_second" : "longest_first";
    t.truncation_ = TruncationConfig{tr.value("max_length", int64_t{512}), s};
  }
  if (j.contains("padding") && j["padding"].is_object()) {
    const RawJson& pd = j["padding"];
    PaddingConfig p;
    if (pd.contains("strategy") && pd["strategy"].is_object() && pd["strategy"].contains("Fixed"))
      p.fixed_length = pd["strategy"]["Fixed"].get<int64_t>();
    if (pd.contains("pad_to_multiple_of") && pd["pad_to_multiple_of"].is_number())
      p.pad_to_multiple_of = pd["pad_to_multiple_of"].get<int64_t>();
    p.pad_id = pd.value("pad_id", int64_t{0});
    p.pad_type_id = pd.value("pad_type_id", int64_t{0});
    t.padding_ = p;
  }
  return t;
}

int64_t WordPieceTokenizer::token_id(const std::string& token) const {
  auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string& WordPieceTokenizer::id_to_token(int64_t id) const {
  FT_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " out of range for a vocabulary of ", vocab_size());
  return id_to_token_[static_cast<size_t>(id)];
}

// ---- the pipeline ----

std::vector<std::string> WordPieceTokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (int64_t id : encode_text(text)) out.push_back(id_to_token_[static_cast<size_t>(id)]);
  return out;
}

std::vector<std::u32string> WordPieceTokenizer::words(const std::string& raw) const {
  std::u32string s = decode_utf8(raw), t;
  if (clean_text_) {
    for (char32_t c : s) {
      if (is_removed(c)) continue;
      t += is_whitespace(c) ? U' ' : c;
    }
    s.swap(t);
    t.clear();
  }
  if (chinese_chars_) {
    for (char32_t c : s) {
      if (is_chinese(c)) {
        t += U' ';
        t += c;
        t += U' ';
      } else {
        t += c;
      }
    }
    s.swap(t);
    t.clear();
  }
  if (strip_accents_) {
    for (char32_t c : nfd(s))
      if (!is_nonspacing_mark(c)) t += c;
    s.swap(t);
    t.clear();
  }
  if (lowercase_) {
    for (char32_t c : s) append_lower(c, t);
    s.swap(t);
    t.clear();
  }
  // 2. Words: split on whitespace, each punctuation character its own word.
  std::vector<std::u32string> words;
  std::u32string cur;
  auto flush = [&] {
    if (!cur.empty()) words.push_back(std::move(cur));
    cur.clear();
  };
  for (char32_t c : s) {
    if (is_whitespace(c)) {
      flush();
    } else if (is_punctuation(c)) {
      flush();
      words.push_back(std::u32string(1, c));
    } else {
      cur += c;
    }
  }
  flush();
  return words;
}

std::vector<std::string> WordPieceTokenizer::pre_tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (const std::u32string& w : words(text)) out.push_back(encode_utf8(w));
  return out;
}

std::vector<int64_t> WordPieceTokenizer::encode_text(const std::string& text) const {
  std::vector<int64_t> ids;
  // 1. Added tokens split the raw text; the rest goes through normalization and WordPiece.
  auto model_span = [&](const std::string& raw) {
    // 2. Words: normalized, split on whitespace, each punctuation character its own word.
    const std::vector<std::u32string> words = this->words(raw);
    // 3. WordPiece: greedy longest match; a word with an unmatched piece is one [UNK].
    for (const std::u32string& w : words) {
      if (static_cast<int64_t>(w.size()) > max_chars_) {
        ids.push_back(unk_id_);
        continue;
      }
      std::vector<int64_t> pieces;
      size_t start = 0;
      bool bad = false;
      while (start < w.size()) {
        size_t end = w.size();
        int64_t found = -1;
        while (start < end) {
          std::string piece = encode_utf8(w.substr(start, end - start));
          if (start > 0) piece = prefix_ + piece;
          auto it = vocab_.find(piece);
          if (it != vocab_.end()) {
            found = it->second;
            break;
          }
          --end;
        }
        if (found < 0) {
          bad = true;
          break;
        }
        pieces.push_back(found);
        start = end;
      }
      if (bad)
        ids.push_back(unk_id_);
      else
        ids.insert(ids.end(), pieces.begin(), pieces.end());
    }
  };
  size_t pos = 0, span_start = 0;
  while (pos < text.size()) {
    bool matched = false;
    for (const auto& [content, id] : added_) {
      if (!content.empty() && text.compare(pos, content.size(), content) == 0) {
        model_span(text.substr(span_start, pos - span_start));
        ids.push_back(id);
        pos += content.size();
        span_start = pos;
        matched = true;
        break;
      }
    }
    if (!matched) ++pos;
  }
  model_span(text.substr(span_start));
  return ids;
}

Encoding WordPieceTokenizer::encode(const std::string& text, const std::string* pair, bool add_special) const {
  std::vector<int64_t> a = encode_text(text), b;
  if (pair) b = encode_text(*pair);
  if (truncation_) {
    const int64_t added = add_special ? (pair ? 3 : 2) : 0;
    const int64_t budget = std::max<int64_t>(0, truncation_->max_length - added);
    int64_t na = static_cast<int64_t>(a.size()), nb = static_cast<int64_t>(b.size());
    if (na + nb > budget) {
      if (!pair) {
        na = budget;
      } else if (truncation_->strategy == "only_first" || truncation_->strategy == "only_second") {
        int64_t& side = truncation_->strategy == "only_first" ? na : nb;
        const int64_t excess = na + nb - budget;
        FT_CHECK(side > excess, "truncation ", truncation_->strategy, ": the sequence is too short to remove ", excess,
                 " tokens");
        side -= excess;
      } else {
        // longest_first, as the Rust library splits the budget.
        const bool swap = na > nb;
        int64_t n1 = swap ? nb : na, n2 = swap ? na : nb;
        if (n1 > budget) n2 = n1;
        else n2 = std::max(n1, budget - n1);
        if (n1 + n2 > budget) {
          n1 = budget / 2;
          n2 = n1 + budget % 2;
        }
        na = std::min<int64_t>(static_cast<int64_t>(a.size()), swap ? n2 : n1);
        nb = std::min<int64_t>(static_cast<int64_t>(b.size()), swap ? n1 : n2);
      }
      a.resize(static_cast<size_t>(na));
      b.resize(static_cast<size_t>(nb));
    }
  }
  Encoding e;
  auto push = [&](int64_t id, int64_t type) {
    e.ids.push_back(id);
    e.type_ids.push_back(type);
    e.attention_mask.push_back(1);
  };
  if (add_special) push(cls_id_, 0);
  for (int64_t id : a) push(id, 0);
  if (add_special) push(sep_id_, 0);
  if (pair) {
    for (int64_t id : b) push(id, 1);
    if (add_special) push(sep_id_, 1);
  }
  if (padding_) {
    std::vector<Encoding> one{e};
    pad(one);
    return one[0];
  }
  return e;
}

void WordPieceTokenizer::pad(std::vector<Encoding>& batch) const {
  if (!padding_) return;
  size_t target = static_cast<size_t>(padding_->fixed_length);
  if (target == 0)
    for (const Encoding& e : batch) target = std::max(target, e.ids.size());
  if (padding_->pad_to_multiple_of > 0) {
    const size_t m = static_cast<size_t>(padding_->pad_to_multiple_of);
    target = (target + m - 1) / m * m;
  }
  for (Encoding& e : batch)
    while (e.ids.size() < target) {
      e.ids.push_back(padding_->pad_id);
      e.type_ids.push_back(padding_->pad_type_id);
      e.attention_mask.push_back(0);
    }
}

std::vector<Encoding> WordPieceTokenizer::encode_batch(const std::vector<std::string>& texts,
                                                       const std::vector<std::string>* pairs) const {
  FT_CHECK(!pairs || pairs->size() == texts.size(), "encode_batch: ", texts.size(), " texts but ", pairs->size(), " pairs");
  std::vector<Encoding> out(texts.size());
  WordPieceTokenizer unpadded = *this;
  unpadded.padding_.reset();
  const size_t threads = std::max<size_t>(1, std::min<size_t>(std::thread::hardware_concurrency(), texts.size() / 64 + 1));
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (size_t i = t; i < texts.size(); i += threads) out[i] = unpadded.encode(texts[i], pairs ? &(*pairs)[i] : nullptr);
    });
  for (auto& th : pool) th.join();
  pad(out);
  return out;
}

std::string WordPieceTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string out;
  for (int64_t id : ids) {
    const std::string& tok = id_to_token(id);  // checks the range
    if (skip_special && special_[static_cast<size_t>(id)]) continue;
    if (tok.compare(0, prefix_.size(), prefix_) == 0) {
      out += tok.substr(prefix_.size());
    } else {
      if (!out.empty()) out += ' ';
      out += tok;
    }
  }
  // The WordPiece decoder's cleanup as the PyPI package applies it: no space before . ? ! and ,
  // (apostrophes stay spaced: "it ' s").
  for (const char* pat : {" .", " ?", " !", " ,"}) {
    const std::string p = pat;
    for (size_t at; (at = out.find(p)) != std::string::npos;) out.replace(at, p.size(), p.substr(1));
  }
  return out;
}

}  // namespace ft::io
