// Evaluation metrics as scikit-learn defines them, from the model's logits and the true labels:
// single-label classification (accuracy; precision, recall and F1 binary for two classes, and macro,
// micro and weighted averages; Matthews correlation; the confusion matrix), regression (MSE, RMSE, MAE,
// Pearson, Spearman with average ranks for ties) and multi-label (micro and macro F1 over logits > 0,
// subset accuracy). A class with no predicted or no true examples contributes 0 where a ratio is
// undefined (sklearn's zero_division=0).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ft::cli {

struct EvalPrediction {
  int64_t n = 0, num_labels = 0;
  std::vector<float> logits;         // [n, num_labels]
  std::vector<int64_t> label_ids;    // single-label: [n]
  std::vector<float> targets;        // regression [n] or multi-label multi-hot [n, num_labels]
};

struct Metrics {
  std::map<std::string, double> scalars;           // "accuracy", "f1_macro", ...
  std::vector<std::vector<int64_t>> confusion;     // [true][predicted], single-label only
};

Metrics compute_metrics(const std::string& problem_type, const EvalPrediction& p);

// Predicted class ids (argmax) of single-label logits.
std::vector<int64_t> argmax_rows(const std::vector<float>& logits, int64_t n, int64_t c);

}  // namespace ft::cli
