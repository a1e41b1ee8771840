// What transformers' *ForSequenceClassification and *ForImageClassification heads share: the
// problem_type rule and the loss for each problem type.
#pragma once
#include <string>

#include "core/tensor.h"

namespace ft::models {

// An empty configured problem_type is inferred as transformers does: one label -> regression,
// integer labels -> single-label classification, anything else -> multi-label.
std::string problem_type_for(const std::string& configured, int64_t num_labels, const Tensor& labels);

// Regression: MSE (logits squeezed for one label); single-label: cross-entropy over class ids;
// multi-label: BCE with logits over multi-hot targets.
Tensor classification_loss(const Tensor& logits, const Tensor& labels, int64_t num_labels,
                           const std::string& problem_type);

}  // namespace ft::models
