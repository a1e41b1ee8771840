// Tokenizer throughput: all 26,601 Rotten Tomatoes and Reuters R8 texts encoded with the
// all-MiniLM-L6-v2 tokenizer (no truncation), as tokens per second. bench/compare_tokenizers.py
// measures the PyPI tokenizers package on the same texts for the ratio.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "io/csv.h"
#include "io/tokenizer.h"

namespace {

std::string data_dir() {
  const char* d = std::getenv("FT_DATA_DIR");
  return d ? d : std::string(std::getenv("HOME")) + "/.cache/ftrain/data";
}

const std::vector<std::string>& texts() {
  static const std::vector<std::string> all = [] {
    std::vector<std::string> v;
    struct Spec {
      const char* file;
      const char* column;
      char delim;
      int header;
    };
    for (const Spec& s : {Spec{"rotten_tomatoes/rotten_tomatoes_corpus.csv", "text", ',', 1},
                          Spec{"rotten_tomatoes/rotten_tomatoes_corpus_full.csv", "text", ',', 1},
                          Spec{"reuters_r8/reuters-r8-train.tab", "Text", '\t', 3},
                          Spec{"reuters_r8/reuters-r8-test.tab", "Text", '\t', 3}}) {
      const ft::io::Table t = ft::io::read_delimited(data_dir() + "/" + s.file, {s.delim, false, s.header});
      const size_t c = t.column(s.column, s.file);
      for (const auto& r : t.rows) v.push_back(r[c]);
    }
    return v;
  }();
  return all;
}

void BM_tokenize_all(benchmark::State& st) {
  ft::io::Tokenizer tok = ft::io::Tokenizer::from_path(data_dir() + "/minilm");
  tok.set_truncation(std::nullopt);
  tok.set_padding(std::nullopt);
  int64_t tokens = 0;
  for (auto _ : st) {
    const auto enc = tok.encode_batch(texts());
    for (const auto& e : enc) tokens += static_cast<int64_t>(e.ids.size());
  }
  st.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  st.counters["texts"] = static_cast<double>(texts().size());
}
BENCHMARK(BM_tokenize_all)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
