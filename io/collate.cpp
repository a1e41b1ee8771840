#include "io/collate.h"

#include <algorithm>

#include "core/error.h"

namespace ft::io {
namespace {

// The labels of a batch as the problem type needs them.
TextBatch with_labels(Tensor ids, Tensor types, Tensor mask, const TextDataset& data, const std::vector<int64_t>& indices) {
  const int64_t b = static_cast<int64_t>(indices.size());
  TextBatch out{std::move(ids), std::move(types), std::move(mask), {}};
  if (data.problem_type == "regression") {
    std::vector<double> y;
    for (int64_t i : indices) y.push_back(data.examples[static_cast<size_t>(i)].target);
    out.labels = from_vector(y, {b}, DType::f32);
  } else if (data.problem_type == "multi_label_classification") {
    const int64_t c = static_cast<int64_t>(data.label_names.size());
    std::vector<double> y(static_cast<size_t>(b * c), 0.0);
    for (int64_t r = 0; r < b; ++r)
      for (int64_t l : data.examples[static_cast<size_t>(indices[r])].labels) y[r * c + l] = 1.0;
    out.labels = from_vector(y, {b, c}, DType::f32);
  } else {
    std::vector<int64_t> y;
    for (int64_t i : indices) y.push_back(data.examples[static_cast<size_t>(i)].label);
    out.labels = from_vector_i64(y, {b});
  }
  return out;
}

}  // namespace

TextBatch collate_text(const Tokenizer& tokenizer, const TextDataset& data, const std::vector<int64_t>& indices,
                       int64_t max_length) {
  FT_CHECK(!indices.empty(), "collate_text: empty batch");
  Tokenizer tok = tokenizer;
  tok.set_truncation(TruncationConfig{max_length, "longest_first"});
  tok.set_padding(PaddingConfig{});  // to the longest in this batch
  std::vector<std::string> texts, pairs;
  const bool with_pairs = !data.examples[static_cast<size_t>(indices[0])].text_pair.empty();
  for (int64_t i : indices) {
    FT_CHECK(i >= 0 && i < static_cast<int64_t>(data.examples.size()), "collate_text: index ", i, " out of range");
    texts.push_back(data.examples[static_cast<size_t>(i)].text);
    if (with_pairs) pairs.push_back(data.examples[static_cast<size_t>(i)].text_pair);
  }
  const std::vector<Encoding> enc = tok.encode_batch(texts, with_pairs ? &pairs : nullptr);
  const int64_t b = static_cast<int64_t>(enc.size()), len = static_cast<int64_t>(enc[0].ids.size());
  std::vector<int64_t> ids, types, mask;
  for (const Encoding& e : enc) {
    ids.insert(ids.end(), e.ids.begin(), e.ids.end());
    types.insert(types.end(), e.type_ids.begin(), e.type_ids.end());
    mask.insert(mask.end(), e.attention_mask.begin(), e.attention_mask.end());
  }
  return with_labels(from_vector_i64(ids, {b, len}), from_vector_i64(types, {b, len}), from_vector_i64(mask, {b, len}),
                     data, indices);
}

TextBatch collate_encoded(const std::vector<Encoding>& encodings, int64_t pad_id, const TextDataset& data,
                          const std::vector<int64_t>& indices) {
  FT_CHECK(!indices.empty(), "collate_encoded: empty batch");
  size_t len = 0;
  for (int64_t i : indices) {
    FT_CHECK(i >= 0 && i < static_cast<int64_t>(encodings.size()), "collate_encoded: index ", i, " out of range");
    len = std::max(len, encodings[static_cast<size_t>(i)].ids.size());
  }
  const int64_t b = static_cast<int64_t>(indices.size());
  std::vector<int64_t> ids(b * len, pad_id), types(b * len, 0), mask(b * len, 0);
  for (int64_t r = 0; r < b; ++r) {
    const Encoding& e = encodings[static_cast<size_t>(indices[r])];
    std::copy(e.ids.begin(), e.ids.end(), ids.begin() + r * len);
    std::copy(e.type_ids.begin(), e.type_ids.end(), types.begin() + r * len);
    std::copy(e.attention_mask.begin(), e.attention_mask.end(), mask.begin() + r * len);
  }
  const int64_t l = static_cast<int64_t>(len);
  return with_labels(from_vector_i64(ids, {b, l}), from_vector_i64(types, {b, l}), from_vector_i64(mask, {b, l}), data,
                     indices);
}

}  // namespace ft::io
