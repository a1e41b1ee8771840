// Text classification data sets from CSV, TSV (.tab: Orange's three header rows) or JSONL files:
// chosen text, optional text-pair and label columns; labels as class names or integers (mapped to ids
// in sorted order, the mapping kept), floats (regression) or lists (multi-label). problem_type is
// inferred from the labels unless given. A seeded train/validation split for when no validation file
// exists. Errors name the file and line; a missing column lists the columns that exist.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ft::io {

struct TextExample {
  std::string text, text_pair;
  int64_t label = -1;           // single-label classification
  double target = 0;            // regression
  std::vector<int64_t> labels;  // multi-label: class ids
  int64_t line = 0;             // where the example starts in its file
};

struct TextDatasetOptions {
  std::string text_column = "text";
  std::string text_pair_column;  // empty: single texts
  std::string label_column = "label";  // empty: unlabelled texts (label -1)
  bool label_optional = false;         // a file without the label column loads as unlabelled texts
  std::string problem_type;      // "", "single_label_classification", "multi_label_classification", "regression"
  bool skip_malformed = false;
};

struct TextDataset {
  std::string path;  // the file it was read from
  std::vector<TextExample> examples;
  std::vector<std::string> label_names;  // id -> name (classification)
  std::string problem_type;
  int64_t skipped = 0;
  bool labelled = true;  // false: texts only, label ids -1
};

// label_names: an existing mapping to reuse (a validation file must use the training file's ids);
// a label outside it is an error naming the file and line.
TextDataset load_text_dataset(const std::string& path, const TextDatasetOptions& opts,
                              const std::vector<std::string>* label_names = nullptr);

// Moves a seeded, uniformly random `fraction` of `train`'s examples into a validation set.
TextDataset split_validation(TextDataset& train, double fraction, uint64_t seed);

}  // namespace ft::io
