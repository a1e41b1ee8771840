// Text classification with BERT: a tokenizer and a BertForSequenceClassification from a Hugging Face
// directory, data sets tokenized once up front (truncated to max_seq_length, unpadded), batches padded
// to their own longest example.
#include <filesystem>

#include "core/error.h"
#include "core/ops.h"
#include "io/collate.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "io/text_dataset.h"
#include "io/tokenizer.h"
#include "models/bert/bert.h"
#include "tools/ftrain/task.h"

namespace ft::cli {
namespace {

struct Data {
  io::TextDataset set;
  std::vector<io::Encoding> enc;
};

class TextClassification : public Task {
 public:
  TextClassification(const TrainArgs& a, Command cmd, Device device, std::string& log) : args_(a), device_(device) {
    const std::string dir = a.model_name_or_path;
    FT_CHECK(std::filesystem::is_directory(dir), dir, ": not a model directory (config.json, model.safetensors, tokenizer)");
    tokenizer_ = io::Tokenizer::from_path(dir);
    tokenizer_.set_truncation(io::TruncationConfig{a.max_seq_length, "longest_first"});
    tokenizer_.set_padding(std::nullopt);
    untruncated_ = tokenizer_;  // counts the tokens of a served input before truncation
    untruncated_.set_truncation(std::nullopt);
    pad_id_ = std::max<int64_t>(0, tokenizer_.token_id("[PAD]"));
    io::BertConfig config = io::BertConfig::from_json(io::read_json(dir + "/config.json"), dir + "/config.json");
    FT_CHECK(a.max_seq_length <= config.max_position_embeddings, "--max_seq_length ", a.max_seq_length,
             " exceeds the model's max_position_embeddings ", config.max_position_embeddings);

    io::TextDatasetOptions o;
    o.text_column = a.text_column_name;
    o.text_pair_column = a.text_pair_column_name;
    o.label_column = a.label_column_name;
    o.skip_malformed = a.skip_malformed_rows;
    if (cmd == Command::train) {
      o.problem_type = a.problem_type;
      train_.set = io::load_text_dataset(a.train_file, o);
      label_names_ = train_.set.label_names;
      problem_type_ = train_.set.problem_type;
      if (!a.validation_file.empty()) {
        eval_.set = load(a.validation_file, o);
      } else if (a.eval_strategy != "no" || a.load_best_model_at_end) {
        eval_.set = io::split_validation(train_.set, a.validation_split_percentage / 100.0, a.seed);
        log += cat("validation: ", eval_.set.examples.size(), " examples held out of ", a.train_file,
                   " (--validation_split_percentage ", a.validation_split_percentage, ")\n");
      }
      if (!a.test_file.empty()) test_.set = load(a.test_file, o);
      truncate(train_.set, a.max_train_samples);
      if (problem_type_ == "single_label_classification" && label_names_.size() < 2)
        warn(cat(a.train_file, ": every training example has the label '", clip(label_names_.at(0), 80),
                 "': the model can only learn to predict it (the loss falls to 0)"));
      config.labels = io::LabelConfig{};
      config.labels.problem_type = problem_type_;
      config.labels.num_labels = problem_type_ == "regression" ? 1 : static_cast<int64_t>(label_names_.size());
      for (size_t i = 0; i < label_names_.size() && problem_type_ != "regression"; ++i) {
        config.labels.id2label[static_cast<int64_t>(i)] = label_names_[i];
        config.labels.label2id[label_names_[i]] = static_cast<int64_t>(i);
      }
      build_model(config, cmd, log);
    } else {
      // The fine-tuned model's labels define the ids; a label outside them is an error naming the row.
      // The model is loaded first, so that a directory without a trained head says so before any
      // label of the data is compared with labels the model does not have.
      // An adapter's classifier was trained with its own labels (labels.json), not the base's.
      std::vector<std::string> adapter_labels;
      std::string adapter_problem;
      if (!a.adapter.empty() && read_adapter_labels(a.adapter, adapter_labels, adapter_problem)) {
        config.labels = io::LabelConfig{};
        for (size_t i = 0; i < adapter_labels.size(); ++i) config.labels.id2label[static_cast<int64_t>(i)] = adapter_labels[i];
        config.labels.num_labels = adapter_problem == "regression" ? 1 : static_cast<int64_t>(adapter_labels.size());
        config.labels.problem_type = adapter_problem;
      }
      problem_type_ = config.labels.problem_type.empty() ? "single_label_classification" : config.labels.problem_type;
      for (auto& [id, name] : config.labels.id2label) label_names_.push_back(name);
      build_model(config, cmd, log);
      o.problem_type = problem_type_;
      if (cmd == Command::eval) {
        eval_.set = load(a.validation_file, o);
      } else if (cmd == Command::predict) {
        test_.set = load_unlabelled(a.test_file, o);
      }
    }
    truncate(eval_.set, a.max_eval_samples);
    truncate(test_.set, a.max_predict_samples);
    for (Data* d : {&train_, &eval_, &test_}) encode(*d);
    skipped_note(Split::train, train_.set.path, train_.set.skipped, "malformed rows");
    skipped_note(Split::eval, eval_.set.path, eval_.set.skipped, "malformed rows");
    skipped_note(Split::test, test_.set.path, test_.set.skipped, "malformed rows");
    tokenizer_dir_ = dir;
  }

  nn::Module& model() override { return *model_; }
  std::string problem_type() const override { return problem_type_; }
  int64_t num_labels() const override { return model_->num_labels; }
  const std::vector<std::string>& label_names() const override { return label_names_; }
  int64_t size(Split s) const override { return static_cast<int64_t>(data(s).set.examples.size()); }

  Batch collate(Split s, const std::vector<int64_t>& indices) const override {
    const Data& d = data(s);
    io::TextBatch t = io::collate_encoded(d.enc, pad_id_, d.set, indices);
    return Batch{{t.input_ids, t.token_type_ids, t.attention_mask}, s == Split::test && unlabelled_ ? Tensor() : t.labels,
                 static_cast<int64_t>(indices.size())};
  }

  std::vector<int64_t> lengths(Split s) const override {
    std::vector<int64_t> out;
    for (const io::Encoding& e : data(s).enc) out.push_back(static_cast<int64_t>(e.ids.size()));
    return out;
  }

  Tensor logits(const Batch& b, Generator* gen) override {
    // The attention mask stays on the host: BERT reads its padding layout there (no device wait).
    return model_->logits(b.inputs[0].to(device_), b.inputs[1].to(device_), b.inputs[2], gen);
  }

  Tensor loss(const Tensor& logits, const Batch& b, double label_smoothing) override {
    const Tensor y = b.labels.to(device_);
    if (label_smoothing > 0 && problem_type_ == "single_label_classification")
      return cross_entropy(logits, y, -100, label_smoothing);
    return model_->loss(logits, y);
  }

  void save_model(const std::string& dir, DType dtype) const override {
    models::save_pretrained(*model_, dir, tokenizer_dir_, dtype);
  }

  void load_model_weights(const std::string& dir) override {
    const models::LoadReport r = models::load_weights(*model_, io::SafetensorsReader(dir + "/model.safetensors"));
    FT_CHECK(r.missing.empty(), dir, ": the checkpoint lacks ", r.missing.size(), " tensors");
  }

  std::string example_text(Split s, int64_t i) const override { return data(s).set.examples[static_cast<size_t>(i)].text; }

  Batch collate_raw(const std::vector<RawInput>& inputs) const override {
    io::TextDataset set;
    std::vector<std::string> texts, pairs;
    bool paired = false;
    for (const RawInput& in : inputs) {
      set.examples.push_back(io::TextExample{in.text, in.text_pair, -1, 0, {}, 0});
      texts.push_back(in.text);
      pairs.push_back(in.text_pair);
      paired = paired || in.has_pair;
    }
    set.problem_type = problem_type_;
    set.labelled = false;
    const std::vector<io::Encoding> enc = tokenizer_.encode_batch(texts, paired ? &pairs : nullptr);
    std::vector<int64_t> all(inputs.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    const io::TextBatch t = io::collate_encoded(enc, pad_id_, set, all);
    return Batch{{t.input_ids, t.token_type_ids, t.attention_mask}, Tensor(), static_cast<int64_t>(inputs.size())};
  }
  int64_t raw_tokens(const RawInput& in) const override {
    return static_cast<int64_t>(untruncated_.encode(in.text, in.has_pair ? &in.text_pair : nullptr).ids.size());
  }
  int64_t max_input_length() const override { return args_.max_seq_length; }

 private:
  void build_model(const io::BertConfig& config, Command cmd, std::string& log) {
    const std::string& dir = args_.model_name_or_path;
    Generator init(args_.seed);
    model_ = std::make_unique<models::BertForSequenceClassification>(config, &init);
    const io::SafetensorsReader file(dir + "/model.safetensors");
    const models::LoadReport report = models::load_weights(*model_, file);
    // (With --adapter outside training the adapter brings the head: nothing is initialised.)
    if (cmd == Command::train || args_.adapter.empty())
      log += models::init_missing(*model_, report, config.initializer_range, &init);
    // LoRA: new adapters (the head initialised above trains fully), or an adapter directory's, which
    // may bring the classifier the base lacks.
    lora = apply_peft(args_, cmd, *model_, "bert", "SEQ_CLS", &init, log);
    lora_base_dir = dir;
    std::vector<std::string> missing;  // what neither the base nor an adapter directory brought
    for (const std::string& m : report.missing)
      if (!(lora && !args_.adapter.empty() && models::in_adapter_file(m, *lora))) missing.push_back(m);
    if (cmd != Command::train)
      FT_CHECK(missing.empty(), dir, ": the checkpoint lacks ", missing.size(), " of the model's tensors (",
               name_list(missing), "): it is not a fine-tuned classifier (a pretrained encoder has no trained "
               "classification head); evaluate or predict with a directory that ftrain train saved",
               args_.adapter.empty() ? " (or give the adapter trained on it with --adapter)" : "");
    FT_CHECK(cmd == Command::train || problem_type_ == "regression" || !label_names_.empty(), dir,
             "/config.json: the model has no id2label, so its classes have no names: use a directory that ftrain "
             "train (or transformers) saved");
    model_->to(device_);
  }

  const Data& data(Split s) const { return s == Split::train ? train_ : s == Split::eval ? eval_ : test_; }

  io::TextDataset load(const std::string& path, const io::TextDatasetOptions& o) const {
    return io::load_text_dataset(path, o, &label_names_);
  }
  // predict: the label column is optional; without it the examples are texts only.
  io::TextDataset load_unlabelled(const std::string& path, io::TextDatasetOptions o) {
    o.label_optional = true;
    io::TextDataset d = load(path, o);
    unlabelled_ = !d.labelled;
    return d;
  }
  static void truncate(io::TextDataset& d, int64_t n) {
    if (n >= 0 && n < static_cast<int64_t>(d.examples.size())) d.examples.resize(static_cast<size_t>(n));
  }
  void encode(Data& d) const {
    std::vector<std::string> texts, pairs;
    for (const io::TextExample& e : d.set.examples) {
      texts.push_back(e.text);
      pairs.push_back(e.text_pair);
    }
    d.enc = tokenizer_.encode_batch(texts, args_.text_pair_column_name.empty() ? nullptr : &pairs);
  }

  TrainArgs args_;
  Device device_;
  io::Tokenizer tokenizer_, untruncated_;
  int64_t pad_id_ = 0;
  std::string tokenizer_dir_, problem_type_;
  std::vector<std::string> label_names_;
  Data train_, eval_, test_;
  bool unlabelled_ = false;
  std::unique_ptr<models::BertForSequenceClassification> model_;
};

}  // namespace

std::unique_ptr<Task> make_text_classification(const TrainArgs& args, Command cmd, Device device, std::string& log) {
  return std::make_unique<TextClassification>(args, cmd, device, log);
}

}  // namespace ft::cli
