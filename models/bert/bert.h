// BERT as transformers' BertModel computes it (../shared/reference/hf-reference.md section 2.4):
// embeddings (word + position + token type, LayerNorm, dropout), layers of self-attention with the
// additive padding mask, attention output (dense, dropout, residual, LayerNorm), intermediate GELU and
// output (dense, dropout, residual, LayerNorm), and the tanh pooler on [CLS]. Modules are registered
// under the Hugging Face names, so checkpoints load name for name.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/nn/layers.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/common/loader.h"

namespace ft::models {

// The token rows the encoder computes, and where each sits in the [batch, seq] grid that attention
// and the outputs are laid out on. All positions (rows undefined), or only the attended ones: padding
// then costs nothing in any per-token op (embeddings, every linear layer, LayerNorm, GELU, dropout),
// as in TEI's and FlashAttention's variable-length batches; attention runs on the grid with the mask.
struct TokenRows {
  int64_t batch = 0, seq = 0;
  Tensor rows;           // i64 [n]: grid position b * seq + p of each row, ascending; undefined = all
  Tensor first_rows;     // i64 [batch]: the row of each sequence's position 0 (with rows only)
  // With rows: one past each sequence's last attended position. Attention leaves the keys after it
  // out and does not compute the query rows after it (padding: masked keys, rows no one reads).
  std::vector<int64_t> lengths;
  Tensor additive_mask;  // [batch, 1, 1, seq], transformers' extended mask
  int64_t count() const { return rows.defined() ? rows.numel() : batch * seq; }
  Tensor to_grid(const Tensor& x) const;    // [n, ...] -> [batch * seq, ...], zeros where no row
  Tensor from_grid(const Tensor& x) const;  // [batch * seq, ...] -> [n, ...]
};

struct BertLayer : nn::Module {
  BertLayer(const io::BertConfig& c, Generator* gen);
  std::string type_name() const override { return "BertLayer"; }
  Tensor forward(const Tensor& h, const TokenRows& tokens, Generator* gen) const;  // h [n, hidden]

  int64_t heads, head_dim;
  GeluApprox act = GeluApprox::none;  // hidden_act: gelu (erf), or gelu_new / gelu_pytorch_tanh (tanh)
  std::shared_ptr<nn::Linear> query, key, value, attn_out, intermediate, output;
  std::shared_ptr<nn::LayerNorm> attn_norm, out_norm;
  std::shared_ptr<nn::Dropout> attn_probs_dropout, hidden_dropout;
};

struct BertOutputs {
  Tensor last_hidden_state;  // [batch, seq, hidden]
  Tensor pooler_output;      // [batch, hidden]
};

class BertModel : public nn::Module {
 public:
  explicit BertModel(const io::BertConfig& config, Generator* gen = nullptr);
  std::string type_name() const override { return "BertModel"; }
  // input_ids, token_type_ids (may be undefined: zeros) and attention_mask (1 = token, 0 = padding).
  // The mask may stay on the host when the ids are on a device: its padding layout is then read
  // without waiting for the device (the Trainer does this).
  // Tokens::all computes every position, padding included, as transformers does (last_hidden_state
  // matches it everywhere). Tokens::attended leaves padding positions out of the computation: the
  // pooled output and the attended positions' hidden states are the same, padding positions of
  // last_hidden_state are zero. It applies when every sequence attends its position 0 (right
  // padding, the tokenizer's); otherwise all positions are computed.
  enum class Tokens { all, attended };
  BertOutputs forward(const Tensor& input_ids, const Tensor& token_type_ids, const Tensor& attention_mask,
                      Generator* gen = nullptr, Tokens tokens = Tokens::all) const;
  const io::BertConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> embeddings_norm;
  std::shared_ptr<nn::Dropout> embeddings_dropout;
  std::vector<std::shared_ptr<BertLayer>> layers;
  std::shared_ptr<nn::Linear> pooler;

 private:
  io::BertConfig config_;
};

// BertForSequenceClassification: pooled output -> dropout -> classifier, with the loss transformers
// uses for the problem type: regression (MSE; one label), single-label (cross-entropy over class ids),
// multi-label (BCE with logits over multi-hot targets). An empty problem_type is inferred as
// transformers does: one label -> regression, integer labels -> single-label, else multi-label.
class BertForSequenceClassification : public nn::Module {
 public:
  explicit BertForSequenceClassification(const io::BertConfig& config, Generator* gen = nullptr);
  std::string type_name() const override { return "BertForSequenceClassification"; }
  Tensor logits(const Tensor& input_ids, const Tensor& token_type_ids, const Tensor& attention_mask,
                Generator* gen = nullptr) const;
  Tensor loss(const Tensor& logits, const Tensor& labels) const;
  std::string problem_type_for(const Tensor& labels) const;

  std::shared_ptr<BertModel> bert;
  std::shared_ptr<nn::Dropout> dropout;
  std::shared_ptr<nn::Linear> classifier;
  int64_t num_labels;
  std::string problem_type;
};

// Saves a Hugging Face directory that transformers' BertForSequenceClassification loads unchanged:
// config.json (architectures, id2label/label2id — LABEL_i when the config has none — problem_type),
// model.safetensors (the module's parameter names, f32, metadata format=pt) and, from tokenizer_dir
// when given, the tokenizer files. Every file is written to a temporary name and renamed.
void save_pretrained(const BertForSequenceClassification& model, const std::string& dir,
                     const std::string& tokenizer_dir = "", DType dtype = DType::f32);

// Loads checkpoint tensors into the module by name: with or without a "bert." prefix on either side, legacy
// gamma/beta for LayerNorm weight/bias, position_ids ignored. Names the module has but the file
// lacks are returned as missing (and left as initialised); names the file has but the module lacks
// as unexpected. A shape mismatch is an ft::Error naming the tensor and both shapes. Tensors are
// converted to the parameter's dtype.
// (BERT's rules for the shared loader, models/common/loader.h.)
const LoadRules& bert_load_rules();
LoadReport load_weights(nn::Module& module, const io::SafetensorsReader& file);

// Initialises what a checkpoint lacked as transformers' _init_weights does (LayerNorm weight 1 and
// bias 0, other biases 0, other weights normal(0, initializer_range)) and returns the message
// transformers prints about it ("" when nothing was missing or unexpected).
std::string init_missing(nn::Module& module, const LoadReport& report, double initializer_range, Generator* gen);

}  // namespace ft::models
