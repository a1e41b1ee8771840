// libFuzzer target: WordPiece and byte-level BPE encoding of arbitrary bytes (invalid UTF-8
// included) with small vocabularies, with truncation and padding, then decoding. Ids must stay
// inside the vocabulary.
#include <cstddef>
#include <cstdint>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "io/tokenizer.h"

namespace {

// A byte-level BPE over GPT-2's 256 byte symbols, a few merges, an added special token, the
// Digits + ByteLevel pre-tokenizer (SmolLM2's).
ft::io::Tokenizer small_bpe() {
  nlohmann::json vocab = nlohmann::json::object();
  auto utf8 = [](char32_t c) {
    std::string s;
    if (c < 0x80) s += static_cast<char>(c);
    else {
      s += static_cast<char>(0xC0 | (c >> 6));
      s += static_cast<char>(0x80 | (c & 0x3F));
    }
    return s;
  };
  int64_t id = 0, extra = 256;
  vocab["<|endoftext|>"] = id++;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    vocab[utf8(printable ? b : extra++)] = id++;
  }
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [a, b] : {std::pair{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"a", "b"}, {"ab", "ab"}, {"Ġ", "Ġ"}}) {
    merges.push_back({a, b});
    vocab[std::string(a) + b] = id++;
  }
  const nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  const nlohmann::json j = {
      {"added_tokens", {{{"id", 0}, {"content", "<|endoftext|>"}, {"special", true}, {"normalized", false}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}}},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
  const std::string path = "/tmp/fuzz_tokenizer_bpe_" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << j.dump();
  ft::io::Tokenizer t = ft::io::Tokenizer::from_path(path);
  std::remove(path.c_str());
  return t;
}

void check(const ft::io::Tokenizer& tok, const std::string& a, const std::string* b) {
  try {
    const ft::io::Encoding e = tok.encode(a, b);
    if (e.ids.size() != e.type_ids.size() || e.ids.size() != e.attention_mask.size() || e.ids.size() % 8) __builtin_trap();
    for (int64_t id : e.ids)
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
    (void)tok.decode(e.ids);
  } catch (const ft::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ft::io::Tokenizer wordpiece = [] {
    ft::io::Tokenizer t = ft::io::Tokenizer::from_vocab(
        {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "##a", "##b", "ab", "##ab", ",", ".", "!", "é", "中"},
        true);
    t.set_truncation(ft::io::TruncationConfig{16, "longest_first"});
    t.set_padding(ft::io::PaddingConfig{0, 8, 0, 0});
    return t;
  }();
  static const ft::io::Tokenizer bpe = [] {
    ft::io::Tokenizer t = small_bpe();
    t.set_truncation(ft::io::TruncationConfig{24, "longest_first"});
    t.set_padding(ft::io::PaddingConfig{0, 8, 0, 0});
    return t;
  }();
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t cut = size ? data[0] % (size + 1) : 0;
  const std::string a = all.substr(0, cut), b = all.substr(cut);
  check(wordpiece, a, size % 2 ? &b : nullptr);
  check(bpe, all, nullptr);
  return 0;
}
