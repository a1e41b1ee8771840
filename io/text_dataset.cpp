#include "io/text_dataset.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "io/csv.h"
#include "kernels/common/philox.h"

namespace ft::io {
namespace {

struct RawRow {
  std::string text, pair;
  nlohmann::json label;  // string, number or array
  int64_t line;
};

// `labelled` starts as whether labels are wanted and ends as whether the file has them: with
// label_optional, a CSV/TSV without the column, or JSON lines whose first object lacks it, are texts only.
std::vector<RawRow> read_rows(const std::string& path, const TextDatasetOptions& o, int64_t& skipped, bool& labelled) {
  std::vector<RawRow> rows;
  if (path.ends_with(".jsonl") || path.ends_with(".json")) {
    std::ifstream f(path);
    FT_CHECK(f.good(), path, ": cannot open");
    std::string line;
    int64_t n = 0;
    while (std::getline(f, line)) {
      ++n;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const std::exception& e) {
        FT_CHECK(o.skip_malformed, path, ":", n, ": invalid JSON: ", clip(e.what(), 200));
        ++skipped;
        continue;
      }
      FT_CHECK(j.is_object(), path, ":", n, ": each line must be a JSON object");
      auto text_of = [&](const std::string& col) {
        if (!j.contains(col)) {
          std::vector<std::string> have;
          for (auto& [k, v] : j.items()) have.push_back(k);
          throw Error(cat(path, ":", n, ": no column '", clip(col, 80), "' (columns: ", name_list(have, 20), ")"));
        }
        FT_CHECK(j[col].is_string(), path, ":", n, ": column '", col, "' is not a string");
        return j[col].get<std::string>();
      };
      RawRow r{text_of(o.text_column), o.text_pair_column.empty() ? "" : text_of(o.text_pair_column), {}, n};
      if (rows.empty() && labelled && o.label_optional && !j.contains(o.label_column)) labelled = false;
      if (labelled) {
        FT_CHECK(j.contains(o.label_column), path, ":", n, ": no column '", o.label_column, "'");
        r.label = j[o.label_column];
      }
      rows.push_back(std::move(r));
    }
    return rows;
  }
  DelimitedOptions d;
  d.delimiter = path.ends_with(".csv") ? ',' : '\t';
  d.header_rows = path.ends_with(".tab") ? 3 : 1;
  d.skip_malformed = o.skip_malformed;
  const Table t = read_delimited(path, d);
  skipped += t.skipped;
  const size_t ti = t.column(o.text_column, path);
  const size_t pi = o.text_pair_column.empty() ? 0 : t.column(o.text_pair_column, path);
  if (labelled && o.label_optional)
    labelled = std::find(t.columns.begin(), t.columns.end(), o.label_column) != t.columns.end();
  const size_t li = labelled ? t.column(o.label_column, path) : 0;
  for (size_t i = 0; i < t.rows.size(); ++i) {
    RawRow r{t.rows[i][ti], o.text_pair_column.empty() ? "" : t.rows[i][pi],
             labelled ? nlohmann::json(t.rows[i][li]) : nlohmann::json(), t.row_lines[i]};
    rows.push_back(std::move(r));
  }
  return rows;
}

bool parse_number(const nlohmann::json& v, double& out) {
  if (v.is_number()) {
    out = v.get<double>();
    return true;
  }
  if (!v.is_string()) return false;
  const std::string s = v.get<std::string>();
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end && *end == '\0' && std::isfinite(out);
}

std::string label_key(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

TextDataset load_text_dataset(const std::string& path, const TextDatasetOptions& o,
                              const std::vector<std::string>* names) {
  TextDataset ds;
  ds.path = path;
  bool labelled = !o.label_column.empty();
  std::vector<RawRow> rows = read_rows(path, o, ds.skipped, labelled);
  FT_CHECK(!rows.empty(), path, ": the data set is empty");
  ds.labelled = labelled;
  if (!labelled) {  // texts only (prediction): no labels, label ids -1
    ds.problem_type = o.problem_type;
    if (names) ds.label_names = *names;
    for (const RawRow& r : rows) ds.examples.push_back(TextExample{r.text, r.pair, -1, 0, {}, r.line});
    return ds;
  }
  // problem_type from the labels when not given: lists are multi-label, non-integer numbers are
  // regression, anything else names classes.
  ds.problem_type = o.problem_type;
  if (ds.problem_type.empty()) {
    bool all_lists = true, all_numbers = true, all_integers = true;
    for (const RawRow& r : rows) {
      double x;
      all_lists = all_lists && r.label.is_array();
      const bool num = parse_number(r.label, x);
      all_numbers = all_numbers && num;
      all_integers = all_integers && num && x == std::floor(x);
    }
    ds.problem_type = all_lists ? "multi_label_classification"
                      : (all_numbers && !all_integers) ? "regression"
                                                       : "single_label_classification";
  }
  if (ds.problem_type == "regression") {
    for (const RawRow& r : rows) {
      TextExample e{r.text, r.pair, -1, 0, {}, r.line};
      FT_CHECK(parse_number(r.label, e.target), path, ":", r.line, ": label '", clip(label_key(r.label)),
               "' is not a number (problem_type regression)");
      ds.examples.push_back(std::move(e));
    }
    return ds;
  }
  FT_CHECK(ds.problem_type == "single_label_classification" || ds.problem_type == "multi_label_classification", path,
           ": unknown problem_type '", ds.problem_type, "'");
  const bool multi = ds.problem_type == "multi_label_classification";
  auto each_label = [&](const RawRow& r, auto&& f) {
    if (multi) {
      FT_CHECK(r.label.is_array(), path, ":", r.line, ": a multi-label row needs a list of labels");
      for (const auto& v : r.label) f(label_key(v));
    } else {
      f(label_key(r.label));
    }
  };
  if (names) {
    ds.label_names = *names;
  } else {
    // Class names in sorted order (numerically when every name is an integer), as run_glue.py does.
    std::set<std::string> seen;
    for (const RawRow& r : rows) each_label(r, [&](const std::string& k) { seen.insert(k); });
    ds.label_names.assign(seen.begin(), seen.end());
    bool ints = true;
    for (const std::string& k : ds.label_names) {
      double x;
      ints = ints && parse_number(k, x) && x == std::floor(x);
    }
    if (ints)
      std::sort(ds.label_names.begin(), ds.label_names.end(),
                [](const std::string& a, const std::string& b) { return std::stod(a) < std::stod(b); });
  }
  std::map<std::string, int64_t> id;
  for (size_t i = 0; i < ds.label_names.size(); ++i) id[ds.label_names[i]] = static_cast<int64_t>(i);
  for (const RawRow& r : rows) {
    TextExample e{r.text, r.pair, -1, 0, {}, r.line};
    each_label(r, [&](const std::string& k) {
      auto it = id.find(k);
      FT_CHECK(it != id.end(), path, ":", r.line, ": label '", clip(k), "' is not one of the ", ds.label_names.size(),
               " training labels (", name_list(ds.label_names), ")");
      if (multi)
        e.labels.push_back(it->second);
      else
        e.label = it->second;
    });
    ds.examples.push_back(std::move(e));
  }
  return ds;
}

TextDataset split_validation(TextDataset& train, double fraction, uint64_t seed) {
  FT_CHECK(fraction > 0 && fraction < 1, "validation split fraction must be in (0, 1), got ", fraction);
  const size_t n = train.examples.size();
  const size_t n_val = static_cast<size_t>(std::llround(static_cast<double>(n) * fraction));
  FT_CHECK(n_val > 0 && n_val < n, "a validation split of ", fraction, " leaves an empty side of ", n, " examples");
  // A seeded permutation: sort indices by their Philox draw (ties by index).
  std::vector<std::pair<uint32_t, size_t>> keys(n);
  for (size_t i = 0; i < n; ++i) keys[i] = {kern::philox_u32(seed, i), i};
  std::sort(keys.begin(), keys.end());
  std::vector<bool> to_val(n, false);
  for (size_t i = 0; i < n_val; ++i) to_val[keys[i].second] = true;
  TextDataset val;
  val.path = train.path;
  val.label_names = train.label_names;
  val.problem_type = train.problem_type;
  std::vector<TextExample> keep;
  for (size_t i = 0; i < n; ++i) (to_val[i] ? val.examples : keep).push_back(std::move(train.examples[i]));
  train.examples = std::move(keep);
  return val;
}

}  // namespace ft::io
