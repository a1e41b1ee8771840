// libFuzzer target: WordPiece encoding of arbitrary bytes (invalid UTF-8 included) with a small
// vocabulary, with truncation and padding, then decoding. Ids must stay inside the vocabulary.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "io/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ft::io::WordPieceTokenizer tok = [] {
    ft::io::WordPieceTokenizer t = ft::io::WordPieceTokenizer::from_vocab(
        {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "##a", "##b", "ab", "##ab", ",", ".", "!", "é", "中"},
        true);
    t.set_truncation(ft::io::TruncationConfig{16, "longest_first"});
    t.set_padding(ft::io::PaddingConfig{0, 8, 0, 0});
    return t;
  }();
  const std::string all(reinterpret_cast<const char*>(data), size);
  const size_t cut = size ? data[0] % (size + 1) : 0;
  const std::string a = all.substr(0, cut), b = all.substr(cut);
  try {
    const ft::io::Encoding e = tok.encode(a, size % 2 ? &b : nullptr);
    if (e.ids.size() != e.type_ids.size() || e.ids.size() != e.attention_mask.size() || e.ids.size() % 8) __builtin_trap();
    for (int64_t id : e.ids)
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
    (void)tok.decode(e.ids);
  } catch (const ft::Error&) {
  }
  return 0;
}
