#include "io/tokenizer.h"

#include <sys/stat.h>
#include <utf8proc.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "io/config.h"
#include "io/tokenizer_models.h"

namespace ft::io {

using RawJson = nlohmann::json;

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

namespace {

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// BERT's template: [CLS] A [SEP] (B [SEP]).
PostProcessor bert_template(int64_t cls, int64_t sep) {
  PostProcessor p;
  p.single = {{cls, 0, 0}, {-1, 0, 0}, {sep, 0, 0}};
  p.pair = {{cls, 0, 0}, {-1, 0, 0}, {sep, 0, 0}, {-1, 1, 1}, {sep, 0, 1}};
  return p;
}

// TemplateProcessing's "single" or "pair" list: {"SpecialToken": {"id", "type_id"}} and
// {"Sequence": {"id": "A" or "B", "type_id"}}, the special tokens' ids from "special_tokens".
std::vector<TemplatePiece> template_pieces(const RawJson& list, const RawJson& specials, const std::string& path) {
  std::vector<TemplatePiece> out;
  for (const RawJson& item : list) {
    if (item.contains("SpecialToken")) {
      const RawJson& s = item["SpecialToken"];
      const std::string name = s.at("id").get<std::string>();
      const RawJson& ids = specials.at(name).at("ids");
      for (const RawJson& id : ids) out.push_back({id.get<int64_t>(), 0, s.value("type_id", int64_t{0})});
    } else {
      const RawJson& s = item.at("Sequence");
      const std::string id = s.at("id").get<std::string>();
      FT_CHECK(id == "A" || id == "B", path, ": TemplateProcessing sequence '", id, "' (A or B)");
      out.push_back({-1, id == "A" ? 0 : 1, s.value("type_id", int64_t{0})});
    }
  }
  return out;
}

PostProcessor post_processor(const RawJson& p, const std::string& path) {
  const std::string type = p.value("type", std::string());
  if (type == "BertProcessing") return bert_template(p.at("cls").at(1).get<int64_t>(), p.at("sep").at(1).get<int64_t>());
  if (type == "ByteLevel") return PostProcessor{};  // offsets only
  if (type == "TemplateProcessing") {
    PostProcessor out;
    out.single = template_pieces(p.at("single"), p.at("special_tokens"), path);
    out.pair = template_pieces(p.at("pair"), p.at("special_tokens"), path);
    return out;
  }
  if (type == "Sequence") {  // e.g. [ByteLevel, TemplateProcessing]: the template is what adds tokens
    PostProcessor out;
    for (const RawJson& q : p.at("processors"))
      if (q.value("type", std::string()) != "ByteLevel") out = post_processor(q, path);
    return out;
  }
  throw Error(cat(path, ": post_processor '", type, "' is not supported (BertProcessing, TemplateProcessing, ByteLevel)"));
}

}  // namespace

int64_t PostProcessor::added(bool with_pair) const {
  int64_t n = 0;
  for (const TemplatePiece& p : with_pair ? pair : single) n += p.special >= 0;
  return n;
}

// ---- construction ----

Tokenizer Tokenizer::from_vocab(const std::vector<std::string>& vocab, bool lowercase) {
  Tokenizer t;
  t.model_ = wordpiece_model(vocab, lowercase);
  t.special_.assign(vocab.size(), false);
  for (const char* s : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    const int64_t id = t.token_id(s);
    if (id >= 0) {
      t.added_.emplace_back(s, id);
      t.special_[id] = true;
    }
  }
  const int64_t unk = t.token_id("[UNK]"), cls = t.token_id("[CLS]"), sep = t.token_id("[SEP]");
  FT_CHECK(unk >= 0 && cls >= 0 && sep >= 0, "vocabulary lacks [UNK], [CLS] or [SEP]");
  t.post_ = bert_template(cls, sep);
  std::sort(t.added_.begin(), t.added_.end(), [](auto& a, auto& b) { return a.first.size() > b.first.size(); });
  return t;
}

Tokenizer Tokenizer::from_path(const std::string& path) {
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

Tokenizer Tokenizer::from_tokenizer_json(const nlohmann::json& j, const std::string& json_path) {
  const std::string type = j.at("model").value("type", std::string("WordPiece"));
  Tokenizer t;
  if (type == "WordPiece") {
    t.model_ = wordpiece_model(j, json_path);
    const int64_t cls = t.token_id("[CLS]"), sep = t.token_id("[SEP]");
    if (cls >= 0 && sep >= 0) t.post_ = bert_template(cls, sep);  // when the file names no post-processor
  } else if (type == "BPE") {
    t.model_ = bpe_model(j, json_path);
  } else {
    throw Error(cat(json_path, ": tokenizer model type '", type,
                    "' is not supported (ftrain reads WordPiece and byte-level BPE tokenizers)"));
  }
  const int64_t n = t.vocab_size();
  t.special_.assign(static_cast<size_t>(n), false);
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const RawJson& a : j["added_tokens"]) {
      const int64_t id = a.at("id").get<int64_t>();
      FT_CHECK(id >= 0 && id < n, json_path, ": added token id ", id, " out of range");
      const std::string content = a.at("content").get<std::string>();
      FT_CHECK(t.token_id(content) == id, json_path, ": added token '", clip(content, 40), "' (id ", id,
               ") is not that id in the vocabulary");
      FT_CHECK(!(a.value("normalized", false) && t.model_->normalizes()) && !a.value("single_word", false) &&
                   !a.value("lstrip", false) && !a.value("rstrip", false),
               json_path, ": added token '", clip(content, 40), "' uses options ftrain does not support");
      t.added_.emplace_back(content, id);
      t.special_[id] = a.value("special", false);
    }
  std::sort(t.added_.begin(), t.added_.end(), [](auto& a, auto& b) { return a.first.size() > b.first.size(); });
  if (j.contains("post_processor") && !j["post_processor"].is_null()) t.post_ = post_processor(j["post_processor"], json_path);
  for (const auto* list : {&t.post_.single, &t.post_.pair})
    for (const TemplatePiece& p : *list)
      FT_CHECK(p.special < n, json_path, ": post_processor token id ", p.special, " out of range");
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

void Tokenizer::set_strip_accents(bool strip) { model_ = with_strip_accents(*model_, strip); }

const std::string& Tokenizer::id_to_token(int64_t id) const {
  FT_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " out of range for a vocabulary of ", vocab_size());
  return model_->vocab.tokens[static_cast<size_t>(id)];
}

// ---- the pipeline ----

std::vector<std::string> Tokenizer::tokenize(const std::string& text) const {
  std::vector<std::string> out;
  for (int64_t id : encode_text(text)) out.push_back(id_to_token(id));
  return out;
}

std::vector<int64_t> Tokenizer::encode_text(const std::string& text) const {
  std::vector<int64_t> ids;
  // Added tokens split the raw text (longest first at each position); the rest goes to the model.
  size_t pos = 0, span_start = 0;
  while (pos < text.size()) {
    bool matched = false;
    for (const auto& [content, id] : added_) {
      if (!content.empty() && text.compare(pos, content.size(), content) == 0) {
        if (pos > span_start) model_->encode(text.substr(span_start, pos - span_start), ids);
        ids.push_back(id);
        pos += content.size();
        span_start = pos;
        matched = true;
        break;
      }
    }
    if (!matched) ++pos;
  }
  if (span_start < text.size()) model_->encode(text.substr(span_start), ids);
  return ids;
}

Encoding Tokenizer::encode(const std::string& text, const std::string* pair, bool add_special) const {
  std::vector<int64_t> a = encode_text(text), b;
  if (pair) b = encode_text(*pair);
  if (truncation_) {
    const int64_t added = add_special ? post_.added(pair != nullptr) : 0;
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
  if (add_special) {
    for (const TemplatePiece& p : pair ? post_.pair : post_.single) {
      if (p.special >= 0)
        push(p.special, p.type_id);
      else
        for (int64_t id : p.sequence == 0 ? a : b) push(id, p.type_id);
    }
  } else {
    for (int64_t id : a) push(id, 0);
    for (int64_t id : b) push(id, 1);
  }
  if (padding_) {
    std::vector<Encoding> one{e};
    pad(one);
    return one[0];
  }
  return e;
}

void Tokenizer::pad(std::vector<Encoding>& batch) const {
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

std::vector<Encoding> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                       const std::vector<std::string>* pairs) const {
  FT_CHECK(!pairs || pairs->size() == texts.size(), "encode_batch: ", texts.size(), " texts but ", pairs->size(), " pairs");
  std::vector<Encoding> out(texts.size());
  Tokenizer unpadded = *this;
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

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::vector<std::string> tokens;
  for (int64_t id : ids) {
    const std::string& tok = id_to_token(id);  // checks the range
    if (skip_special && special_[static_cast<size_t>(id)]) continue;
    tokens.push_back(tok);
  }
  return model_->decode(tokens);
}

}  // namespace ft::io
