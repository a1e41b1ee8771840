#include <utf8proc.h>

#include <algorithm>

#include "core/error.h"
#include "io/tokenizer_models.h"
#include "io/unicode_bert_tables.inc"

// WordPiece as BERT's tokenizer.json runs it: BertNormalizer (clean text, CJK spacing, accents
// stripped through NFD, lowercase), BertPreTokenizer (whitespace and punctuation), greedy
// longest-match WordPiece, and the WordPiece decoder.
namespace ft::io {
namespace {

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

struct WordPiece : TokenModel {
  const char* type() const override { return "WordPiece"; }
  bool normalizes() const override { return true; }
  void encode(const std::string& text, std::vector<int64_t>& ids) const override;
  std::vector<std::string> pre_tokenize(const std::string& text) const override {
    std::vector<std::string> out;
    for (const std::u32string& w : words(text)) out.push_back(encode_utf8(w));
    return out;
  }
  std::string decode(const std::vector<std::string>& tokens) const override;
  std::vector<std::u32string> words(const std::string& raw) const;

  bool clean_text = true, chinese_chars = true, strip_accents = true, lowercase = true;
  int64_t unk_id = 100;
  std::string prefix = "##";
  int64_t max_chars = 100;
};

std::vector<std::u32string> WordPiece::words(const std::string& raw) const {
  std::u32string s = decode_utf8(raw), t;
  if (clean_text) {
    for (char32_t c : s) {
      if (is_removed(c)) continue;
      t += is_whitespace(c) ? U' ' : c;
    }
    s.swap(t);
    t.clear();
  }
  if (chinese_chars) {
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
  if (strip_accents) {
    for (char32_t c : nfd(s))
      if (!is_nonspacing_mark(c)) t += c;
    s.swap(t);
    t.clear();
  }
  if (lowercase) {
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

void WordPiece::encode(const std::string& raw, std::vector<int64_t>& ids) const {
  // 2. Words: normalized, split on whitespace, each punctuation character its own word.
  const std::vector<std::u32string> words = this->words(raw);
  // 3. WordPiece: greedy longest match; a word with an unmatched piece is one [UNK].
  for (const std::u32string& w : words) {
    if (static_cast<int64_t>(w.size()) > max_chars) {
      ids.push_back(unk_id);
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
        if (start > 0) piece = prefix + piece;
        auto it = vocab.ids.find(piece);
        if (it != vocab.ids.end()) {
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
      ids.push_back(unk_id);
    else
      ids.insert(ids.end(), pieces.begin(), pieces.end());
  }
}

std::string WordPiece::decode(const std::vector<std::string>& tokens) const {
  std::string out;
  for (const std::string& tok : tokens) {
    if (tok.compare(0, prefix.size(), prefix) == 0) {
      out += tok.substr(prefix.size());
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

}  // namespace

std::shared_ptr<TokenModel> wordpiece_model(const std::vector<std::string>& vocab, bool lowercase) {
  auto m = std::make_shared<WordPiece>();
  m->vocab.tokens = vocab;
  for (size_t i = 0; i < vocab.size(); ++i) m->vocab.ids.emplace(vocab[i], static_cast<int64_t>(i));
  m->lowercase = m->strip_accents = lowercase;
  m->unk_id = m->vocab.id("[UNK]");
  return m;
}

std::shared_ptr<TokenModel> wordpiece_model(const nlohmann::json& j, const std::string& json_path) {
  const nlohmann::json& model = j.at("model");
  std::vector<std::string> vocab(model.at("vocab").size());
  for (auto& [tok, id] : model.at("vocab").items()) {
    const int64_t i = id.get<int64_t>();
    FT_CHECK(i >= 0 && i < static_cast<int64_t>(vocab.size()), json_path, ": vocab id ", i, " out of range");
    vocab[i] = tok;
  }
  auto m = std::static_pointer_cast<WordPiece>(wordpiece_model(vocab, true));
  m->unk_id = m->vocab.id(model.value("unk_token", std::string("[UNK]")));
  FT_CHECK(m->unk_id >= 0, json_path, ": the unknown token is not in the vocabulary");
  m->prefix = model.value("continuing_subword_prefix", std::string("##"));
  m->max_chars = model.value("max_input_chars_per_word", int64_t{100});
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    const nlohmann::json& n = j["normalizer"];
    FT_CHECK(n.value("type", std::string()) == "BertNormalizer", json_path, ": normalizer '", n.value("type", std::string()),
             "' is not supported (BertNormalizer is)");
    m->clean_text = n.value("clean_text", true);
    m->chinese_chars = n.value("handle_chinese_chars", true);
    m->lowercase = n.value("lowercase", true);
    m->strip_accents = n.contains("strip_accents") && !n["strip_accents"].is_null() ? n["strip_accents"].get<bool>()
                                                                                      : m->lowercase;
  }
  return m;
}

std::shared_ptr<TokenModel> with_strip_accents(const TokenModel& m, bool strip) {
  const auto* wp = dynamic_cast<const WordPiece*>(&m);
  FT_CHECK(wp, "strip_accents is BertNormalizer's option; this tokenizer's model is ", m.type());
  auto copy = std::make_shared<WordPiece>(*wp);
  copy->strip_accents = strip;
  return copy;
}

}  // namespace ft::io
