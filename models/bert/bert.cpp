#include "models/bert/bert.h"

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "core/ops.h"
#include "models/common/heads.h"
#include "models/common/pretrained.h"

namespace ft::models {

BertLayer::BertLayer(const io::BertConfig& c, Generator* gen)
    : heads(c.num_attention_heads), head_dim(c.hidden_size / c.num_attention_heads) {
  const int64_t h = c.hidden_size, i = c.intermediate_size;
  query = register_module("attention.self.query", std::make_shared<nn::Linear>(h, h, true, gen));
  key = register_module("attention.self.key", std::make_shared<nn::Linear>(h, h, true, gen));
  value = register_module("attention.self.value", std::make_shared<nn::Linear>(h, h, true, gen));
  attn_out = register_module("attention.output.dense", std::make_shared<nn::Linear>(h, h, true, gen));
  attn_norm = register_module("attention.output.LayerNorm", std::make_shared<nn::LayerNorm>(h, c.layer_norm_eps));
  intermediate = register_module("intermediate.dense", std::make_shared<nn::Linear>(h, i, true, gen));
  output = register_module("output.dense", std::make_shared<nn::Linear>(i, h, true, gen));
  out_norm = register_module("output.LayerNorm", std::make_shared<nn::LayerNorm>(h, c.layer_norm_eps));
  attn_probs_dropout = register_module("attention.self.dropout", std::make_shared<nn::Dropout>(c.attention_probs_dropout_prob));
  hidden_dropout = register_module("output.dropout", std::make_shared<nn::Dropout>(c.hidden_dropout_prob));
  FT_CHECK(c.hidden_act == "gelu" || c.hidden_act == "gelu_new" || c.hidden_act == "gelu_pytorch_tanh",
           "BertLayer: hidden_act '", c.hidden_act, "' is not supported (gelu, gelu_new and gelu_pytorch_tanh are)");
  if (c.hidden_act != "gelu") act = GeluApprox::tanh;
}

Tensor TokenRows::to_grid(const Tensor& x) const { return rows.defined() ? index_scatter(x, batch * seq, rows) : x; }
Tensor TokenRows::from_grid(const Tensor& x) const { return rows.defined() ? index_select(x, 0, rows) : x; }

Tensor BertLayer::forward(const Tensor& h, const TokenRows& tokens, Generator* gen) const {
  const int64_t b = tokens.batch, t = tokens.seq;
  auto split = [&](const Tensor& x) {
    return tokens.to_grid(x).view({b, t, heads, head_dim}).permute({0, 2, 1, 3});
  };
  const Tensor q = split(query->forward(h, gen)), k = split(key->forward(h, gen)), v = split(value->forward(h, gen));
  // softmax(q k^T / sqrt(d) + mask) v, fused where the backend has the kernel (dropout included). Its
  // output is laid out as [b, t, heads, d], so merging the heads is a view.
  Tensor ctx = tokens.from_grid(scaled_dot_product_attention(q, k, v, tokens.additive_mask, attn_probs_dropout->p,
                                                             attn_probs_dropout->is_training(), gen, tokens.lengths)
                                    .permute({0, 2, 1, 3})
                                    .reshape({b * t, heads * head_dim}));
  // Each sublayer's tail, LayerNorm(dropout(x W^T + b) + residual), and the intermediate GELU take
  // their bias inside the fused ops (core/ops/fused.cpp): the GEMMs run without one (a LoRA adapter's
  // update is added to the GEMM's output, before the fused tail).
  const double p = hidden_dropout->p;
  const bool training = hidden_dropout->is_training();
  Tensor a = bias_dropout_add_layer_norm(attn_out->forward_no_bias(ctx, gen), attn_out->bias, h, attn_norm->weight,
                                         attn_norm->bias, attn_norm->eps, p, training, gen);
  // One cuBLASLt call on CUDA for the tanh GELU; a bias-free GEMM and the fused bias + GELU otherwise.
  Tensor inter = intermediate->forward_bias_gelu(a, act, gen);
  return bias_dropout_add_layer_norm(output->forward_no_bias(inter, gen), output->bias, a, out_norm->weight, out_norm->bias,
                                     out_norm->eps, p, training, gen);
}

BertModel::BertModel(const io::BertConfig& c, Generator* gen) : config_(c) {
  FT_CHECK(c.position_embedding_type == "absolute", "BertModel: position_embedding_type '", c.position_embedding_type,
           "' is not supported (absolute is)");
  word_embeddings = register_module("embeddings.word_embeddings",
                                    std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, c.pad_token_id, gen));
  position_embeddings = register_module("embeddings.position_embeddings",
                                        std::make_shared<nn::Embedding>(c.max_position_embeddings, c.hidden_size, -1, gen));
  token_type_embeddings = register_module("embeddings.token_type_embeddings",
                                          std::make_shared<nn::Embedding>(c.type_vocab_size, c.hidden_size, -1, gen));
  embeddings_norm = register_module("embeddings.LayerNorm", std::make_shared<nn::LayerNorm>(c.hidden_size, c.layer_norm_eps));
  embeddings_dropout = register_module("embeddings.dropout", std::make_shared<nn::Dropout>(c.hidden_dropout_prob));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layers.push_back(register_module("encoder.layer." + std::to_string(i), std::make_shared<BertLayer>(c, gen)));
  pooler = register_module("pooler.dense", std::make_shared<nn::Linear>(c.hidden_size, c.hidden_size, true, gen));
}

namespace {

// The attended rows of a [batch, seq] attention mask, when some position is padding and every
// sequence attends its position 0; else none (all positions are computed). A mask on the host (what
// the Trainer passes) is read there; one on a device is copied back, a wait for the device.
void attended_rows(const Tensor& mask, Device dev, TokenRows& tokens) {
  const std::vector<int64_t> m = mask.to(DType::i64).to(kCPU).contiguous().to_vector<int64_t>();
  std::vector<int64_t> rows, first, lengths;
  for (int64_t i = 0; i < tokens.batch; ++i) {
    if (m[static_cast<size_t>(i * tokens.seq)] == 0) return;
    first.push_back(static_cast<int64_t>(rows.size()));
    for (int64_t p = 0; p < tokens.seq; ++p)
      if (m[static_cast<size_t>(i * tokens.seq + p)] != 0) rows.push_back(i * tokens.seq + p);
    lengths.push_back(rows.back() - i * tokens.seq + 1);
  }
  if (static_cast<int64_t>(rows.size()) == tokens.batch * tokens.seq) return;
  tokens.lengths = std::move(lengths);
  tokens.rows = from_vector_i64(rows, {static_cast<int64_t>(rows.size())}).to(dev);
  tokens.first_rows = from_vector_i64(first, {tokens.batch}).to(dev);
}

}  // namespace

BertOutputs BertModel::forward(const Tensor& ids, const Tensor& type_ids, const Tensor& mask, Generator* gen,
                               Tokens which) const {
  FT_CHECK(ids.dim() == 2, "BertModel: input_ids must be [batch, seq], got ", shape_str(ids.shape()));
  const int64_t b = ids.size(0), t = ids.size(1), hidden = config_.hidden_size;
  FT_CHECK(t <= config_.max_position_embeddings, "BertModel: sequence length ", t, " exceeds max_position_embeddings ",
           config_.max_position_embeddings);
  FT_CHECK(!mask.defined() || mask.shape() == ids.shape(), "BertModel: attention_mask ", shape_str(mask.shape()),
           " does not match input_ids ", shape_str(ids.shape()));
  const Device dev = ids.device();
  const DType dt = word_embeddings->weight.dtype();
  TokenRows tokens{b, t, Tensor(), Tensor(), {}, Tensor()};
  if (which == Tokens::attended && mask.defined()) attended_rows(mask, dev, tokens);
  const int64_t n = tokens.count();
  auto pick = [&](const Tensor& x) { return tokens.from_grid(x.reshape({b * t})); };  // [b, t] ids -> [n]
  Tensor positions = arange(0, static_cast<double>(t), 1, DType::i64).to(dev).unsqueeze(0).expand({b, t});
  Tensor types = type_ids.defined() ? pick(type_ids) : zeros({n}, TensorOptions(DType::i64).with_device(dev));
  Tensor h = add(add(word_embeddings->forward(pick(ids)), position_embeddings->forward(pick(positions))),
                 token_type_embeddings->forward(types));
  h = embeddings_dropout->forward(embeddings_norm->forward(h), gen);
  // transformers' extended mask: (1 - mask) * finfo(float32).min, broadcast over heads and queries.
  Tensor m = mask.defined() ? mask.to(dev) : ones({b, t}, TensorOptions(DType::i64).with_device(dev));
  tokens.additive_mask = mul(rsub(m.to(dt), 1.0), static_cast<double>(std::numeric_limits<float>::lowest()))
                             .view({b, 1, 1, t});
  for (const auto& layer : layers) h = layer->forward(h, tokens, gen);
  Tensor first = tokens.rows.defined() ? index_select(h, 0, tokens.first_rows) : h.view({b, t, hidden}).select(1, 0);
  Tensor pooled = tanh(pooler->forward(first, gen));
  return {tokens.to_grid(h).view({b, t, hidden}), pooled};
}

namespace {
void pooler_init(const std::shared_ptr<nn::Linear>& pooler, double range, Generator* gen) {
  pooler->weight.copy_(mul(randn(pooler->weight.shape(), DType::f32, gen), range));
  pooler->bias.fill_(0);
}
}  // namespace

BertForSequenceClassification::BertForSequenceClassification(const io::BertConfig& c, Generator* gen)
    : num_labels(c.labels.num_labels), problem_type(c.labels.problem_type) {
  bert = register_module("bert", std::make_shared<BertModel>(c, gen));
  dropout = register_module("dropout", std::make_shared<nn::Dropout>(c.classifier_dropout >= 0 ? c.classifier_dropout
                                                                                              : c.hidden_dropout_prob));
  classifier = register_module("classifier", std::make_shared<nn::Linear>(c.hidden_size, num_labels, true, gen));
  // transformers' _init_weights for a new head: normal(0, initializer_range) weights, zero bias.
  NoGradGuard ng;
  classifier->weight.copy_(mul(randn(classifier->weight.shape(), DType::f32, gen), c.initializer_range));
  classifier->bias.fill_(0);
  pooler_init(bert->pooler, c.initializer_range, gen);
}

Tensor BertForSequenceClassification::logits(const Tensor& ids, const Tensor& types, const Tensor& mask,
                                             Generator* gen) const {
  return classifier->forward(
      dropout->forward(bert->forward(ids, types, mask, gen, BertModel::Tokens::attended).pooler_output, gen));
}

std::string BertForSequenceClassification::problem_type_for(const Tensor& labels) const {
  return models::problem_type_for(problem_type, num_labels, labels);
}

Tensor BertForSequenceClassification::loss(const Tensor& logits, const Tensor& labels) const {
  return classification_loss(logits, labels, num_labels, problem_type);
}

void save_pretrained(const BertForSequenceClassification& model, const std::string& dir, const std::string& tokenizer_dir,
                     DType dtype) {
  io::BertConfig c = model.bert->config();
  set_head_labels(c.labels, model.num_labels, model.problem_type);
  c.architectures = {"BertForSequenceClassification"};
  write_config(dir, c.to_json(), dtype);
  write_state_dict(model, dir, dtype);
  copy_files(tokenizer_dir, dir, {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"});
}

const LoadRules& bert_load_rules() {
  static const LoadRules rules = [] {
    LoadRules r;
    r.family = "BERT";
    r.prefixes = {"bert."};
    r.suffix_aliases = {{".gamma", ".weight"}, {".beta", ".bias"}};
    r.ignored = {"position_ids"};
    return r;
  }();
  return rules;
}

LoadReport load_weights(nn::Module& module, const io::SafetensorsReader& file) {
  return load_weights(module, file, bert_load_rules());
}

std::string init_missing(nn::Module& module, const LoadReport& report, double initializer_range, Generator* gen) {
  NoGradGuard ng;
  for (const std::string& name : report.missing) {
    Tensor p = module.parameter(name);
    const bool norm = name.find("LayerNorm") != std::string::npos;
    const bool bias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (bias) p.fill_(0);
    else if (norm) p.fill_(1);
    else p.copy_(mul(randn(p.shape(), DType::f32, gen), initializer_range));
  }
  std::string msg;
  auto list = [](const std::vector<std::string>& v) { return name_list(v, 10); };
  if (!report.unexpected.empty())
    msg += "Some weights of the checkpoint were not used: [" + list(report.unexpected) + "]\n";
  if (!report.missing.empty())
    msg += "Some weights were not initialized from the checkpoint and are newly initialized: [" + list(report.missing) +
           "]\nYou should probably TRAIN this model on a down-stream task to be able to use it for predictions and "
           "inference.\n";
  return msg;
}

}  // namespace ft::models
