// WordPiece parity with the PyPI tokenizers package (tests/golden/gen_tokenizer_parity.py): every
// text of Rotten Tomatoes (both files) and Reuters R8 (train and test) must give the same ids (length
// and hash), and every hand-made edge case the same ids, type ids and attention mask.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/common/test_util.h"
#include "core/error.h"
#include "io/csv.h"
#include "io/tokenizer.h"
#include "tests/io/parity.h"

namespace ft::io {
namespace {

using test::data_dir;
using test::fnv1a64;


const parity::Fixture& expected() {
  static const parity::Fixture e = parity::read_fixture(std::string(FT_FIXTURES_DIR) + "/tokenizer_parity.txt");
  return e;
}

Tokenizer minilm_untruncated() {
  Tokenizer t = Tokenizer::from_path(data_dir() + "/minilm");
  t.set_truncation(std::nullopt);
  t.set_padding(std::nullopt);
  return t;
}

using parity::SetSpec;

class TokenizerParity : public ::testing::TestWithParam<SetSpec> {};

TEST_P(TokenizerParity, EveryTextGivesThePyPiIds) {
  const SetSpec& s = GetParam();
  const std::vector<std::string> texts = parity::texts(s);
  EXPECT_EQ(parity::mismatches(minilm_untruncated(), texts, expected().rows.at(s.name), s.name), 0)
      << "of " << texts.size() << " texts in " << s.name;
}

INSTANTIATE_TEST_SUITE_P(Sets, TokenizerParity, ::testing::ValuesIn(parity::sets()), parity::set_name);

TEST(Tokenizer, EdgeCasesMatchThePyPiPackage) {
  ASSERT_FALSE(expected().cases.empty());
  for (const nlohmann::json& c : expected().cases) {
    Tokenizer tok = minilm_untruncated();
    if (!c.at("truncation").is_null()) tok.set_truncation(TruncationConfig{c.at("truncation")[0], c.at("truncation")[1]});
    if (!c.at("pad").is_null()) tok.set_padding(PaddingConfig{c.at("pad").get<int64_t>(), 0, 0, 0});
    const std::string text = c.at("text");
    const std::string pair = c.at("pair").is_null() ? "" : c.at("pair").get<std::string>();
    const Encoding e = tok.encode(text, c.at("pair").is_null() ? nullptr : &pair);
    EXPECT_EQ(e.ids, c.at("ids").get<std::vector<int64_t>>()) << c.dump();
    EXPECT_EQ(e.type_ids, c.at("type_ids").get<std::vector<int64_t>>()) << c.dump();
    EXPECT_EQ(e.attention_mask, c.at("attention_mask").get<std::vector<int64_t>>()) << c.dump();
  }
}

TEST(Tokenizer, FileSettingsVocabTxtAndDecode) {
  const Tokenizer file = Tokenizer::from_path(data_dir() + "/minilm/tokenizer.json");
  ASSERT_TRUE(file.truncation().has_value());  // the file ships truncation to 128 and padding to 128
  EXPECT_EQ(file.encode("hello world").ids.size(), 128u);
  EXPECT_EQ(file.vocab_size(), 30522);
  // vocab.txt + tokenizer_config.json give the same pieces as tokenizer.json.
  const std::string dir = ::testing::TempDir() + "ft_vocab_only";
  std::system(("mkdir -p " + dir + " && cp " + data_dir() + "/minilm/vocab.txt " + data_dir() +
               "/minilm/tokenizer_config.json " + dir + "/")
                  .c_str());
  const Tokenizer vocab = Tokenizer::from_path(dir);
  const std::string s = "Unaffable embeddings, Café! [SEP]";
  EXPECT_EQ(vocab.encode(s).ids, minilm_untruncated().encode(s).ids);
  EXPECT_EQ(vocab.tokenize("unaffable"), (std::vector<std::string>{"una", "##ffa", "##ble"}));  // as the PyPI package splits it with this vocabulary
  const Tokenizer t = minilm_untruncated();
  // Decoded as the PyPI package decodes them.
  EXPECT_EQ(t.decode(t.encode("Hello, world! It's fine.").ids), "hello, world! it ' s fine.");
  EXPECT_EQ(t.decode(t.encode("Hello , world ! Really ? yes .").ids), "hello, world! really? yes.");
  EXPECT_THROW(t.id_to_token(30522), Error);
  EXPECT_THROW(Tokenizer::from_path("/nonexistent"), Error);
}

}  // namespace
}  // namespace ft::io
