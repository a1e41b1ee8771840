// Byte-level BPE parity with the PyPI tokenizers package (tests/golden/gen_bpe_parity.py) on the
// SmolLM2 tokenizer.json that `ftrain convert` writes (Digits then ByteLevel) and on its GPT-2-style
// twin (ByteLevel alone): every text of Rotten Tomatoes and Reuters R8 gives the package's ids, and
// every edge case (Unicode, whitespace runs, emoji, contractions, digits, special tokens) its ids and
// decoded text. Also the errors for tokenizer files ftrain cannot run.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "io/csv.h"
#include "io/tokenizer.h"
#include "tests/io/parity.h"
#include "tests/common/test_util.h"

namespace ft::io {
namespace {

using test::data_dir;
using test::fnv1a64;

const parity::Fixture& expected() {
  static const parity::Fixture e = parity::read_fixture(std::string(FT_FIXTURES_DIR) + "/bpe_parity.txt");
  return e;
}

std::string smollm2_json() { return data_dir() + "/smollm2/hf/tokenizer.json"; }

// Writes a tokenizer.json made from SmolLM2's by `edit`, and loads it.
template <class F>
std::string edited_json(const std::string& name, F&& edit) {
  std::ifstream f(smollm2_json());
  nlohmann::json j = nlohmann::json::parse(f);
  edit(j);
  const std::string path = ::testing::TempDir() + "ft_bpe_" + name + "_" + std::to_string(::getpid()) + ".json";
  std::ofstream(path) << j.dump();
  return path;
}

const Tokenizer& tokenizer(const std::string& variant) {
  static const Tokenizer smol = Tokenizer::from_path(smollm2_json());
  static const Tokenizer gpt2 = Tokenizer::from_path(edited_json("gpt2", [](nlohmann::json& j) {
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  }));
  return variant == "gpt2" ? gpt2 : smol;
}

using parity::SetSpec;

class BpeParity : public ::testing::TestWithParam<SetSpec> {};

TEST_P(BpeParity, EveryTextGivesThePyPiIds) {
  const SetSpec& s = GetParam();
  const std::vector<std::string> texts = parity::texts(s);
  const Tokenizer& tok = tokenizer("smollm2");
  EXPECT_STREQ(tok.model_type(), "BPE");
  EXPECT_EQ(parity::mismatches(tok, texts, expected().rows.at(s.name), s.name), 0)
      << "of " << texts.size() << " texts in " << s.name;
  // The GPT-2-style twin over the whole set.
  std::vector<int64_t> all;
  for (const Encoding& e : tokenizer("gpt2").encode_batch(texts)) all.insert(all.end(), e.ids.begin(), e.ids.end());
  EXPECT_EQ(static_cast<int64_t>(all.size()), expected().all.at(s.name).first) << s.name << " (GPT-2 pre-tokenizer)";
  EXPECT_EQ(fnv1a64(all), expected().all.at(s.name).second) << s.name << " (GPT-2 pre-tokenizer)";
}

INSTANTIATE_TEST_SUITE_P(Sets, BpeParity, ::testing::ValuesIn(parity::sets()), parity::set_name);

TEST(Bpe, EdgeCasesAndDecodingMatchThePyPiPackage) {
  ASSERT_FALSE(expected().cases.empty());
  for (const nlohmann::json& c : expected().cases) {
    const Tokenizer& tok = tokenizer(c.at("variant"));
    const std::vector<int64_t> ids = tok.encode(c.at("text").get<std::string>()).ids;
    EXPECT_EQ(ids, c.at("ids").get<std::vector<int64_t>>()) << c.dump();
    EXPECT_EQ(tok.decode(ids, false), c.at("decoded").get<std::string>()) << c.dump();
    EXPECT_EQ(tok.decode(ids, true), c.at("decoded_skip").get<std::string>()) << c.dump();
  }
}

TEST(Bpe, TokenizerFilesItCannotRunAreClearErrors) {
  auto error_of = [](const std::string& path) {
    try {
      Tokenizer::from_path(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string unigram = edited_json("unigram", [](nlohmann::json& j) { j["model"]["type"] = "Unigram"; });
  EXPECT_NE(error_of(unigram).find("tokenizer model type 'Unigram' is not supported (ftrain reads WordPiece and "
                                   "byte-level BPE tokenizers)"),
            std::string::npos) << error_of(unigram);
  const std::string split = edited_json("split", [](nlohmann::json& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}}; });
  EXPECT_NE(error_of(split).find("pre_tokenizer {\"type\":\"Metaspace\"} is not supported with BPE"), std::string::npos)
      << error_of(split);
  const std::string merge = edited_json("merge", [](nlohmann::json& j) { j["model"]["merges"][5] = {"Ġt", "zzzq"}; });
  EXPECT_NE(error_of(merge).find("merge 5 ('Ġt' 'zzzq') names a token that is not in the vocabulary"), std::string::npos)
      << error_of(merge);
  const std::string fallback = edited_json("fallback", [](nlohmann::json& j) { j["model"]["byte_fallback"] = true; });
  EXPECT_NE(error_of(fallback).find("byte_fallback"), std::string::npos);
  for (const std::string& p : {unigram, split, merge, fallback}) std::remove(p.c_str());
}

}  // namespace
}  // namespace ft::io
