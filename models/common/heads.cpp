#include "models/common/heads.h"

#include "core/ops.h"

namespace ft::models {

std::string problem_type_for(const std::string& configured, int64_t num_labels, const Tensor& labels) {
  if (!configured.empty()) return configured;
  if (num_labels == 1) return "regression";
  if (labels.dtype() == DType::i64 || labels.dtype() == DType::i32) return "single_label_classification";
  return "multi_label_classification";
}

Tensor classification_loss(const Tensor& logits, const Tensor& labels, int64_t num_labels,
                           const std::string& problem_type) {
  const std::string pt = problem_type_for(problem_type, num_labels, labels);
  if (pt == "regression") {
    const Tensor y = labels.to(logits.dtype());
    return num_labels == 1 ? mse_loss(logits.reshape({-1}), y.reshape({-1})) : mse_loss(logits, y);
  }
  if (pt == "single_label_classification") return cross_entropy(logits.reshape({-1, num_labels}), labels.reshape({-1}));
  return binary_cross_entropy_with_logits(logits, labels.to(logits.dtype()));
}

}  // namespace ft::models
