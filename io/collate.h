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

// Pads examples encoded beforehand (truncated, unpadded; encodings[i] belongs to data.examples[i]) to
// the longest of the batch with pad_id, attention mask 0 and token type 0.
TextBatch collate_encoded(const std::vector<Encoding>& encodings, int64_t pad_id, const TextDataset& data,
                          const std::vector<int64_t>& indices);

TextBatch collate_text(const Tokenizer& tokenizer, const TextDataset& data, const std::vector<int64_t>& indices,
                       int64_t max_length);

}  // namespace ft::io
