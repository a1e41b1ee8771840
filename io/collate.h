// Collation of text examples into a batch of tensors with dynamic padding: every batch is padded to
// its own longest sequence (truncated to max_length), as DataCollatorWithPadding does.
#pragma once
#include <vector>

#include "core/tensor.h"
#include "io/text_dataset.h"
#include "io/tokenizer.h"

namespace ft::io {

struct TextBatch {
  Tensor input_ids, token_type_ids, attention_mask;  // i64 [batch, longest]
  Tensor labels;  // i64 [batch] (single-label), f32 [batch] (regression), f32 [batch, classes] (multi-label)
};

TextBatch collate_text(const WordPieceTokenizer& tokenizer, const TextDataset& data, const std::vector<int64_t>& indices,
                       int64_t max_length);

}  // namespace ft::io
