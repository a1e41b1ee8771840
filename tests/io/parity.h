// What the tokenizer parity tests share (tests/io/test_tokenizer.cpp, tests/io/test_bpe.cpp): the
// data sets every text of which is compared with the PyPI tokenizers package, and the comparison of
// a set's encodings with the fixture's per-text (length, hash).
#pragma once
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "io/csv.h"
#include "io/tokenizer.h"
#include "tests/common/test_util.h"

namespace ft::io::parity {

struct SetSpec {
  const char* name;
  const char* file;
  const char* column;
  char delimiter;
  int header_rows;
};

inline std::vector<SetSpec> sets() {
  return {SetSpec{"rt", "rotten_tomatoes/rotten_tomatoes_corpus.csv", "text", ',', 1},
          SetSpec{"rt_full", "rotten_tomatoes/rotten_tomatoes_corpus_full.csv", "text", ',', 1},
          SetSpec{"r8_train", "reuters_r8/reuters-r8-train.tab", "Text", '\t', 3},
          SetSpec{"r8_test", "reuters_r8/reuters-r8-test.tab", "Text", '\t', 3}};
}

// A parity fixture: "<set> <row> <n_ids> <fnv1a64>" per text, "<set> all <n_ids> <fnv1a64>" over a
// whole set, and "case {json}" lines.
struct Fixture {
  std::map<std::string, std::vector<std::pair<int64_t, uint64_t>>> rows;
  std::map<std::string, std::pair<int64_t, uint64_t>> all;
  std::vector<nlohmann::json> cases;
};

inline Fixture read_fixture(const std::string& path) {
  Fixture x;
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << path;
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
}

inline std::string set_name(const ::testing::TestParamInfo<SetSpec>& i) { return i.param.name; }

inline std::vector<std::string> texts(const SetSpec& s) {
  const Table t = read_delimited(test::data_dir() + "/" + s.file, {s.delimiter, false, s.header_rows});
  const size_t col = t.column(s.column, s.file);
  std::vector<std::string> out;
  for (const auto& r : t.rows) out.push_back(r[col]);
  return out;
}

// Encodes every text and counts those whose ids differ from the fixture's (length, hash), printing
// the first three with their pieces.
inline int mismatches(const Tokenizer& tok, const std::vector<std::string>& texts,
                      const std::vector<std::pair<int64_t, uint64_t>>& want, const std::string& set) {
  EXPECT_EQ(texts.size(), want.size()) << set;
  if (texts.size() != want.size()) return -1;
  const std::vector<Encoding> got = tok.encode_batch(texts);
  int n = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (static_cast<int64_t>(got[i].ids.size()) == want[i].first && test::fnv1a64(got[i].ids) == want[i].second)
      continue;
    if (++n <= 3) {
      std::string pieces;
      for (int64_t id : got[i].ids) pieces += tok.id_to_token(id) + " ";
      ADD_FAILURE() << set << " row " << i << ": " << got[i].ids.size() << " ids (want " << want[i].first
                    << ")\ntext: " << texts[i].substr(0, 300) << "\nours: " << pieces.substr(0, 600);
    }
  }
  return n;
}

}  // namespace ft::io::parity
