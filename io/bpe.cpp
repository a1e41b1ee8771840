// Byte-level BPE as the Rust `tokenizers` library runs GPT-2's and SmolLM2's tokenizer.json:
// 1. pre-tokenizer: optionally Digits (each digit its own piece, or runs of digits), then ByteLevel:
//    GPT-2's regex  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//    (run by hand below: leftmost-first alternation, the lookahead by backtracking one character),
//    then each piece's UTF-8 bytes as GPT-2's printable byte symbols;
// 2. BPE: each piece starts as its symbols; the adjacent pair of lowest merge rank is merged
//    (leftmost first among equals) until no pair has a merge, as the library's priority queue does;
// 3. decoder: the symbols back to bytes, read as UTF-8 (invalid sequences as U+FFFD).
#include <utf8proc.h>

#include <queue>

#include "core/error.h"
#include "io/tokenizer_models.h"

namespace ft::io {
namespace {

// GPT-2's bytes_to_unicode: printable bytes ('!'..'~', U+00A1..U+00AC, U+00AE..U+00FF) stand for
// themselves; the other 68 map, in byte order, to U+0100 onwards.
struct ByteSymbols {
  char32_t of_byte[256];
  std::unordered_map<char32_t, uint8_t> to_byte;
  ByteSymbols() {
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      of_byte[b] = printable ? static_cast<char32_t>(b) : next++;
      to_byte[of_byte[b]] = static_cast<uint8_t>(b);
    }
  }
};
const ByteSymbols& byte_symbols() {
  static const ByteSymbols s;
  return s;
}

bool is_letter(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return true;
    default: return false;
  }
}

bool is_number(char32_t c) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: return true;
    default: return false;
  }
}

// \s in the regex engine: Unicode's White_Space property.
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_other(char32_t c) { return !is_space(c) && !is_letter(c) && !is_number(c); }

// The end of the GPT-2 regex's match at i (there is always one: every character is a letter, a
// number, a space or something else).
size_t regex_match_end(const std::u32string& s, size_t i) {
  const size_t n = s.size();
  if (s[i] == U'\'' && i + 1 < n) {
    const char32_t a = s[i + 1], b = i + 2 < n ? s[i + 2] : 0;
    if (a == U's' || a == U't' || a == U'm' || a == U'd') return i + 2;
    if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return i + 3;
  }
  for (bool (*cls)(char32_t) : {is_letter, is_number, is_other}) {
    size_t j = i;
    if (s[j] == U' ' && j + 1 < n && cls(s[j + 1])) ++j;  // " ?" then one or more of the class
    if (!cls(s[j])) continue;
    while (j < n && cls(s[j])) ++j;
    return j;
  }
  size_t k = i;  // whitespace: \s+(?!\S) leaves the last space to the next piece, else \s+
  while (k < n && is_space(s[k])) ++k;
  return k == n || k - i == 1 ? k : k - 1;
}

struct Merge {
  int64_t rank, id;
};

struct PairHash {
  size_t operator()(const std::pair<int64_t, int64_t>& p) const {
    return std::hash<uint64_t>()(static_cast<uint64_t>(p.first) * 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(p.second));
  }
};

struct ByteLevelBpe : TokenModel {
  const char* type() const override { return "BPE"; }
  bool normalizes() const override { return false; }
  void encode(const std::string& text, std::vector<int64_t>& ids) const override {
    for (const std::string& piece : pre_tokenize(text)) bpe(piece, ids);
  }
  std::vector<std::string> pre_tokenize(const std::string& text) const override;
  std::string decode(const std::vector<std::string>& tokens) const override;
  void bpe(const std::string& symbols, std::vector<int64_t>& ids) const;

  enum class Digits { none, individual, grouped } digits = Digits::none;
  bool add_prefix_space = false, use_regex = true, ignore_merges = false;
  int64_t unk_id = -1;
  std::unordered_map<std::pair<int64_t, int64_t>, Merge, PairHash> merges;
};

std::vector<std::string> ByteLevelBpe::pre_tokenize(const std::string& text) const {
  std::u32string s = decode_utf8(text);
  if (add_prefix_space && !s.empty() && s[0] != U' ') s.insert(s.begin(), U' ');
  // Digits first: pieces of the text, each then split by the regex on its own.
  std::vector<std::u32string> parts;
  if (digits == Digits::none) {
    parts.push_back(s);
  } else {
    for (size_t i = 0; i < s.size();) {
      size_t j = i + 1;
      if (is_number(s[i])) {
        if (digits == Digits::grouped)
          while (j < s.size() && is_number(s[j])) ++j;
      } else {
        while (j < s.size() && !is_number(s[j])) ++j;
      }
      parts.push_back(s.substr(i, j - i));
      i = j;
    }
  }
  const ByteSymbols& bs = byte_symbols();
  std::vector<std::string> out;
  for (const std::u32string& part : parts)
    for (size_t i = 0; i < part.size();) {
      const size_t end = use_regex ? regex_match_end(part, i) : part.size();
      std::u32string mapped;
      for (unsigned char b : encode_utf8(part.substr(i, end - i))) mapped += bs.of_byte[b];
      out.push_back(encode_utf8(mapped));
      i = end;
    }
  return out;
}

void ByteLevelBpe::bpe(const std::string& piece, std::vector<int64_t>& ids) const {
  if (ignore_merges) {
    const int64_t whole = vocab.id(piece);
    if (whole >= 0) {
      ids.push_back(whole);
      return;
    }
  }
  // Symbols as a linked list; a min-heap of (rank, position) of mergeable neighbours.
  struct Sym {
    int64_t id;
    int prev, next;
    bool alive;
  };
  std::vector<Sym> sym;
  for (char32_t c : decode_utf8(piece)) {
    const int64_t id = vocab.id(encode_utf8(std::u32string(1, c)));
    if (id < 0 && unk_id < 0) continue;  // as the library does without an unknown token
    sym.push_back({id < 0 ? unk_id : id, static_cast<int>(sym.size()) - 1, static_cast<int>(sym.size()) + 1, true});
  }
  if (sym.empty()) return;
  sym.back().next = -1;
  struct Cand {
    int64_t rank;
    int pos;
    int64_t id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto consider = [&](int l) {
    if (l < 0 || sym[l].next < 0) return;
    auto it = merges.find({sym[l].id, sym[sym[l].next].id});
    if (it != merges.end()) heap.push({it->second.rank, l, it->second.id});
  };
  for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) consider(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    Sym& l = sym[c.pos];
    if (!l.alive || l.next < 0) continue;
    auto it = merges.find({l.id, sym[l.next].id});
    if (it == merges.end() || it->second.id != c.id) continue;  // stale: a neighbour merged first
    Sym& r = sym[l.next];
    r.alive = false;
    l.id = c.id;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.pos;
    consider(l.prev);
    consider(c.pos);
  }
  for (const Sym& s : sym)
    if (s.alive) ids.push_back(s.id);
}

std::string ByteLevelBpe::decode(const std::vector<std::string>& tokens) const {
  const ByteSymbols& bs = byte_symbols();
  std::string bytes;
  for (const std::string& t : tokens) {
    std::string b;
    bool all = true;
    for (char32_t c : decode_utf8(t)) {
      auto it = bs.to_byte.find(c);
      if (it == bs.to_byte.end()) {
        all = false;
        break;
      }
      b += static_cast<char>(it->second);
    }
    bytes += all ? b : t;  // a token not made of byte symbols (an added token) as it is
  }
  return encode_utf8(decode_utf8(bytes));  // invalid UTF-8 as U+FFFD
}

// Reads a ByteLevel pre-tokenizer's options into m; false when `p` is not one.
bool read_byte_level(const nlohmann::json& p, ByteLevelBpe& m) {
  if (p.value("type", std::string()) != "ByteLevel") return false;
  m.add_prefix_space = p.value("add_prefix_space", false);
  m.use_regex = p.value("use_regex", true);
  return true;
}

}  // namespace

std::shared_ptr<TokenModel> bpe_model(const nlohmann::json& j, const std::string& path) {
  const nlohmann::json& model = j.at("model");
  auto m = std::make_shared<ByteLevelBpe>();
  auto is_set = [&](const char* key) {
    return model.contains(key) && !model[key].is_null() && !(model[key].is_string() && model[key].get<std::string>().empty());
  };
  FT_CHECK(!is_set("continuing_subword_prefix") && !is_set("end_of_word_suffix"), path,
           ": BPE with a continuing_subword_prefix or end_of_word_suffix is not byte-level BPE (not supported)");
  FT_CHECK(!model.value("byte_fallback", false), path, ": BPE with byte_fallback (SentencePiece-style) is not supported");
  FT_CHECK(!model.contains("dropout") || model["dropout"].is_null() || model["dropout"].get<double>() == 0.0, path,
           ": BPE dropout is not supported");
  m->ignore_merges = model.value("ignore_merges", false);
  const nlohmann::json& vocab = model.at("vocab");
  m->vocab.tokens.resize(vocab.size());
  for (auto& [tok, id] : vocab.items()) {
    const int64_t i = id.get<int64_t>();
    FT_CHECK(i >= 0 && i < static_cast<int64_t>(vocab.size()) && m->vocab.tokens[i].empty(), path, ": vocab id ", i,
             " out of range or repeated");
    m->vocab.tokens[i] = tok;
    m->vocab.ids.emplace(tok, i);
  }
  if (is_set("unk_token")) m->unk_id = m->vocab.id(model["unk_token"].get<std::string>());
  const nlohmann::json& merges = model.at("merges");
  for (size_t r = 0; r < merges.size(); ++r) {
    std::string a, b;
    if (merges[r].is_string()) {  // "a b" (older files)
      const std::string s = merges[r].get<std::string>();
      const size_t sp = s.find(' ');
      FT_CHECK(sp != std::string::npos, path, ": merge ", r, " '", clip(s, 40), "' is not two tokens");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else {  // ["a", "b"]
      a = merges[r].at(0).get<std::string>();
      b = merges[r].at(1).get<std::string>();
    }
    const int64_t ia = m->vocab.id(a), ib = m->vocab.id(b), merged = m->vocab.id(a + b);
    FT_CHECK(ia >= 0 && ib >= 0 && merged >= 0, path, ": merge ", r, " ('", clip(a, 40), "' '", clip(b, 40),
             "') names a token that is not in the vocabulary");
    m->merges.emplace(std::make_pair(ia, ib), Merge{static_cast<int64_t>(r), merged});
  }
  FT_CHECK(!j.contains("normalizer") || j["normalizer"].is_null(), path, ": a normalizer on a byte-level BPE tokenizer is not supported");
  const nlohmann::json pre = j.value("pre_tokenizer", nlohmann::json());
  bool ok = read_byte_level(pre, *m);
  if (!ok && pre.value("type", std::string()) == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].size() == 2) {
    const nlohmann::json& d = pre["pretokenizers"][0];
    if (d.value("type", std::string()) == "Digits") {
      m->digits = d.value("individual_digits", false) ? ByteLevelBpe::Digits::individual : ByteLevelBpe::Digits::grouped;
      ok = read_byte_level(pre["pretokenizers"][1], *m);
    }
  }
  FT_CHECK(ok, path, ": pre_tokenizer ", clip(pre.dump(), 120),
           " is not supported with BPE (ByteLevel, or a Sequence of Digits and ByteLevel)");
  if (j.contains("decoder") && !j["decoder"].is_null())
    FT_CHECK(j["decoder"].value("type", std::string()) == "ByteLevel", path, ": decoder '",
             j["decoder"].value("type", std::string()), "' is not supported with byte-level BPE (ByteLevel is)");
  return m;
}

}  // namespace ft::io
