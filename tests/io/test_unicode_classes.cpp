// The tokenizer's character classes against the PyPI tokenizers package on every Unicode scalar value
// (tests/golden/gen_unicode_classes.py): "a" + c + "b" through ftrain's BERT normalizer and
// pre-tokenizer must give the package's pieces for all 1,112,064 code points, uncased (the real
// all-MiniLM-L6-v2 tokenizer.json) and cased.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "io/tokenizer.h"
#include "tests/common/test_util.h"

namespace ft::io {
namespace {

std::string utf8(char32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6)), s += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12)), s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18)), s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((c >> 6) & 0x3F)), s += static_cast<char>(0x80 | (c & 0x3F));
  }
  return s;
}

// NFD of a Hangul syllable by Unicode's algorithm (section 3.12); the generator checked the package's.
std::string hangul(char32_t c) {
  const char32_t i = c - 0xAC00;
  std::string s = utf8(0x1100 + i / 588) + utf8(0x1161 + (i % 588) / 28);
  return i % 28 ? s + utf8(0x11A7 + i % 28) : s;
}

std::string from_hex(const std::string& dotted) {
  std::string x;
  std::istringstream cps(dotted);
  for (std::string h; std::getline(cps, h, '.');) x += utf8(static_cast<char32_t>(std::stoul(h, nullptr, 16)));
  return x;
}

struct Expected {
  std::vector<std::vector<std::string>> pieces = std::vector<std::vector<std::string>>(0x110000);
  std::vector<std::pair<std::string, std::vector<std::string>>> texts;  // "pair" lines: text, pieces
};

// The package's pieces for "a" + c + "b", for every code point, from the fixture's ranges and lines.
Expected expected_pieces(const std::string& config) {
  Expected e;
  auto& want = e.pieces;
  std::ifstream f(std::string(FT_FIXTURES_DIR) + "/unicode_classes_" + config + ".txt");
  EXPECT_TRUE(f.good()) << "no fixture for " << config;
  auto pieces = [](const std::string& kind, const std::string& x) -> std::vector<std::string> {
    if (kind == "D") return {"ab"};
    if (kind == "W") return {"a", "b"};
    if (kind == "S") return {"a", x, "b"};
    return {"a" + x + "b"};
  };
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string a, b, c;
    in >> a >> b >> c;
    if (a == "pair") {  // two combining characters: the pieces of "a" + c1 + c2 + "b"
      std::vector<std::string> p;
      for (std::string h; in >> h;) p.push_back(from_hex(h));
      const std::string text = "a" + from_hex(b) + from_hex(c) + "b";
      e.texts.emplace_back(text, p);
      continue;
    }
    const char32_t first = static_cast<char32_t>(std::stoul(a, nullptr, 16));
    if (b == "K" || b == "S") {  // one code point that normalization changes: c lists the result
      want[first] = pieces(b, from_hex(c));
    } else {  // a range of code points that stay themselves (H: Hangul syllables, decomposed)
      const char32_t last = static_cast<char32_t>(std::stoul(b, nullptr, 16));
      EXPECT_TRUE(c == "D" || c == "W" || c == "S" || c == "K" || c == "H") << line;
      for (char32_t cp = first; cp <= last; ++cp) want[cp] = c == "H" ? pieces("K", hangul(cp)) : pieces(c, utf8(cp));
    }
  }
  return e;
}

std::string show(const std::vector<std::string>& pieces) {
  std::string s;
  for (const auto& p : pieces) s += "[" + p + "]";
  return s;
}

void expect_every_code_point(const Tokenizer& tok, const std::string& config) {
  const Expected e = expected_pieces(config);
  const auto& want = e.pieces;
  int64_t checked = 0, mismatches = 0;
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // surrogates are not scalar values (no UTF-8)
    ASSERT_FALSE(want[cp].empty()) << config << ": the fixture lacks U+" << std::hex << static_cast<uint32_t>(cp);
    const std::vector<std::string> got = tok.pre_tokenize("a" + utf8(cp) + "b");
    ++checked;
    if (got == want[cp]) continue;
    if (++mismatches <= 20)
      ADD_FAILURE() << config << " U+" << std::hex << std::uppercase << static_cast<uint32_t>(cp) << ": ftrain "
                    << show(got) << ", tokenizers " << show(want[cp]);
  }
  EXPECT_EQ(checked, 1112064);
  EXPECT_EQ(mismatches, 0) << config << ": " << mismatches << " code points tokenize differently";
  for (const auto& [text, pieces] : e.texts) EXPECT_EQ(show(tok.pre_tokenize(text)), show(pieces)) << config;
}

TEST(UnicodeClasses, EveryCodePointUncasedMatchesThePyPiPackage) {
  expect_every_code_point(Tokenizer::from_path(test::data_dir() + "/minilm/tokenizer.json"), "uncased");
}

TEST(UnicodeClasses, EveryCodePointCasedMatchesThePyPiPackage) {
  expect_every_code_point(Tokenizer::from_vocab({"[UNK]", "[CLS]", "[SEP]"}, /*lowercase=*/false), "cased");
}

TEST(UnicodeClasses, EveryCodePointLowercasedWithAccentsMatchesThePyPiPackage) {
  Tokenizer tok = Tokenizer::from_vocab({"[UNK]", "[CLS]", "[SEP]"}, /*lowercase=*/true);
  tok.set_strip_accents(false);
  expect_every_code_point(tok, "lowercase_keep_accents");
}

}  // namespace
}  // namespace ft::io
