// Metrics against values worked out by hand from scikit-learn's definitions.
#include <gtest/gtest.h>

#include <cmath>

#include "tools/ftrain/metrics.h"

namespace ft::cli {
namespace {

EvalPrediction single(const std::vector<int64_t>& truth, const std::vector<int64_t>& pred, int64_t c) {
  EvalPrediction p;
  p.n = static_cast<int64_t>(truth.size()), p.num_labels = c, p.label_ids = truth;
  p.logits.assign(static_cast<size_t>(p.n * c), 0.f);
  for (int64_t i = 0; i < p.n; ++i) p.logits[i * c + pred[i]] = 1.f;
  return p;
}

TEST(Metrics, BinaryClassification) {
  // truth 1 1 1 0 0 0 0 1; pred 1 0 1 0 1 0 0 1: TP 3, FN 1, FP 1, TN 3.
  const Metrics m = compute_metrics("single_label_classification", single({1, 1, 1, 0, 0, 0, 0, 1}, {1, 0, 1, 0, 1, 0, 0, 1}, 2));
  EXPECT_DOUBLE_EQ(m.scalars.at("accuracy"), 0.75);
  EXPECT_DOUBLE_EQ(m.scalars.at("precision"), 0.75);
  EXPECT_DOUBLE_EQ(m.scalars.at("recall"), 0.75);
  EXPECT_DOUBLE_EQ(m.scalars.at("f1"), 0.75);
  EXPECT_DOUBLE_EQ(m.scalars.at("matthews_correlation"), 0.5);  // (3*3 - 1*1) / sqrt(4*4*4*4)
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{3, 1}, {1, 3}}));
}

TEST(Metrics, MultiClassAverages) {
  // truth 0 0 0 1 1 2; pred 0 0 1 1 2 2.
  const Metrics m = compute_metrics("single_label_classification", single({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2}, 3));
  // per class P/R/F1: 0: 1, 2/3, 0.8; 1: 1/2, 1/2, 1/2; 2: 1/2, 1, 2/3.
  EXPECT_NEAR(m.scalars.at("precision_macro"), (1 + 0.5 + 0.5) / 3, 1e-12);
  EXPECT_NEAR(m.scalars.at("recall_macro"), (2.0 / 3 + 0.5 + 1) / 3, 1e-12);
  EXPECT_NEAR(m.scalars.at("f1_macro"), (0.8 + 0.5 + 2.0 / 3) / 3, 1e-12);
  EXPECT_NEAR(m.scalars.at("f1_weighted"), (3 * 0.8 + 2 * 0.5 + 1 * 2.0 / 3) / 6, 1e-12);
  EXPECT_NEAR(m.scalars.at("f1_micro"), 4.0 / 6, 1e-12);
  EXPECT_EQ(m.scalars.count("f1"), 0u);  // binary F1 only for two classes
  // MCC: c=4, s=6, p=(2,2,2), t=(3,2,1): (24 - 12) / sqrt((36-12)(36-14)).
  EXPECT_NEAR(m.scalars.at("matthews_correlation"), 12 / std::sqrt(24.0 * 22.0), 1e-12);
}

TEST(Metrics, Regression) {
  EvalPrediction p;
  p.n = 4, p.num_labels = 1;
  p.logits = {1, 2, 3, 5};
  p.targets = {1, 3, 2, 4};
  const Metrics m = compute_metrics("regression", p);
  EXPECT_DOUBLE_EQ(m.scalars.at("mse"), 0.75);
  EXPECT_DOUBLE_EQ(m.scalars.at("mae"), 0.75);
  EXPECT_NEAR(m.scalars.at("rmse"), std::sqrt(0.75), 1e-12);
  // Pearson: x mean 2.75, y mean 2.5; sxy 5.5, sxx 8.75, syy 5.
  EXPECT_NEAR(m.scalars.at("pearson"), 5.5 / std::sqrt(8.75 * 5), 1e-12);
  EXPECT_NEAR(m.scalars.at("spearman"), 0.8, 1e-12);  // ranks 1 2 3 4 vs 1 3 2 4
}

TEST(Metrics, MultiLabel) {
  EvalPrediction p;
  p.n = 2, p.num_labels = 3;
  p.logits = {1, -1, 1, -1, 1, -1};  // predicted {0, 2}, {1}
  p.targets = {1, 0, 0, 0, 1, 0};    // true {0}, {1}
  const Metrics m = compute_metrics("multi_label_classification", p);
  EXPECT_DOUBLE_EQ(m.scalars.at("subset_accuracy"), 0.5);
  EXPECT_NEAR(m.scalars.at("f1_micro"), 2 * (2.0 / 3) * 1 / (2.0 / 3 + 1), 1e-12);  // TP 2, FP 1, FN 0
  EXPECT_NEAR(m.scalars.at("f1_macro"), (1 + 1 + 0) / 3.0, 1e-12);
}

}  // namespace
}  // namespace ft::cli
