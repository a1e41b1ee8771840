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
#include "tests/common/test_util.h"

namespace ft::io {
namespace {

using test::data_dir;
using test::fnv1a64;

struct Expected {
  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> rows;  // smollm2: per text
  std::map<std::string, std::pair<int64_t, uint64_t>> all;                // gpt2: over the set
  std::vector<nlohmann::json> cases;
};

const Expected& expected() {
  static const Expected e = [] {
    Expected x;
    std::ifstream f(std::string(FT_FIXTURES_DIR) + "/bpe_parity.txt");
    std::string line;
    while (std::getline(f, line)) {
      if (line.empty() || line[0] == '#') continue;
      if (line.rfind("case ", 0) == 0) {
        x.cases.push_back(nlohmann::json::parse(line.substr(5)));
        continue;
      }
      std::istringstream is(line);
      std::string set, row, hash;
      int64_t len;
      is >> set >> row >> len >> hash;
      if (row == "all")
        x.all[set] = {len, std::stoull(hash, nullptr, 16)};
      else
        x.rows[set].emplace_back(len, std::stoull(hash, nullptr, 16));
    }
    return x;
  }();
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

std::vector<std::string> set_texts(const char* file, const char* column, char delimiter, int header_rows) {
  const Table t = read_delimited(data_dir() + "/" + file, {delimiter, false, header_rows});
  const size_t col = t.column(column, file);
  std::vector<std::string> texts;
  for (const auto& r : t.rows) texts.push_back(r[col]);
  return texts;
}

struct SetSpec {
  const char* name;
  const char* file;
  const char* column;
  char delimiter;
  int header_rows;
};

class BpeParity : public ::testing::TestWithParam<SetSpec> {};

TEST_P(BpeParity, EveryTextGivesThePyPiIds) {
  const SetSpec& s = GetParam();
  const std::vector<std::string> texts = set_texts(s.file, s.column, s.delimiter, s.header_rows);
  const auto& want = expected().rows.at(s.name);
  ASSERT_EQ(texts.size(), want.size()) << s.name;
  const Tokenizer& tok = tokenizer("smollm2");
  EXPECT_STREQ(tok.model_type(), "BPE");
  const std::vector<Encoding> got = tok.encode_batch(texts);
  int mismatches = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (static_cast<int64_t>(got[i].ids.size()) == want[i].first && fnv1a64(got[i].ids) == want[i].second) continue;
    if (++mismatches <= 3) {
      std::string pieces;
      for (int64_t id : got[i].ids) pieces += tok.id_to_token(id) + " ";
      ADD_FAILURE() << s.name << " row " << i << ": " << got[i].ids.size() << " ids (want " << want[i].first
                    << ")\ntext: " << texts[i].substr(0, 300) << "\nours: " << pieces.substr(0, 600);
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << texts.size() << " texts in " << s.name;
  // The GPT-2-style twin over the whole set.
  std::vector<int64_t> all;
  for (const Encoding& e : tokenizer("gpt2").encode_batch(texts)) all.insert(all.end(), e.ids.begin(), e.ids.end());
  EXPECT_EQ(static_cast<int64_t>(all.size()), expected().all.at(s.name).first) << s.name << " (GPT-2 pre-tokenizer)";
  EXPECT_EQ(fnv1a64(all), expected().all.at(s.name).second) << s.name << " (GPT-2 pre-tokenizer)";
}

INSTANTIATE_TEST_SUITE_P(
    Sets, BpeParity,
    ::testing::Values(SetSpec{"rt", "rotten_tomatoes/rotten_tomatoes_corpus.csv", "text", ',', 1},
                      SetSpec{"rt_full", "rotten_tomatoes/rotten_tomatoes_corpus_full.csv", "text", ',', 1},
                      SetSpec{"r8_train", "reuters_r8/reuters-r8-train.tab", "Text", '\t', 3},
                      SetSpec{"r8_test", "reuters_r8/reuters-r8-test.tab", "Text", '\t', 3}),
    [](const ::testing::TestParamInfo<SetSpec>& i) { return std::string(i.param.name); });

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
