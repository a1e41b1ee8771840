// --task causal-lm: fine-tuning a GPT-2 or Llama model on text, as transformers' run_clm.py does it
// (facts only): each text tokenized (the tokenizer's template applied), then by default all the
// tokens of a split concatenated and cut into blocks of --block_size (group_texts: the remainder
// dropped), labels = the inputs, shifted inside the loss. --no_group_texts keeps each text one example,
// truncated to block_size and padded per batch (labels -100 at padding). A JSONL file whose rows hold
// "prompt" and "completion" trains on the completion only (TRL's prompt-completion form: the prompt's
// labels -100; the completion ends with the EOS token). Evaluation reports eval_loss and
// eval_perplexity = exp(eval_loss), as run_clm computes perplexity.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/ops.h"
#include "io/text_dataset.h"
#include "io/tokenizer.h"
#include "models/common/causal_lm.h"
#include "tools/ftrain/task.h"

namespace ft::cli {
namespace {

struct Example {
  std::vector<int64_t> ids, labels;  // labels -100 where no loss is taken
  std::string text;
};

class CausalLmTask : public Task {
 public:
  CausalLmTask(const TrainArgs& a, Command cmd, Device device, std::string& log) : args_(a), device_(device) {
    FT_CHECK(cmd == Command::train || cmd == Command::eval, "ftrain ", cmd == Command::predict ? "predict" : "serve",
             " does not run causal language models; use ftrain generate");
    const std::string dir = a.model_name_or_path;
    const io::Json config = io::read_json(dir + "/config.json");
    Generator init(a.seed);
    model_ = models::make_causal_lm(config, dir + "/config.json", &init);
    log += models::load_causal_lm(*model_, io::SafetensorsReader(dir + "/model.safetensors"));
    lora = apply_peft(a, cmd, *model_, config.value("model_type", std::string()), "CAUSAL_LM", &init, log);
    lora_base_dir = dir;
    model_->to(device_);
    tokenizer_ = io::Tokenizer::from_path(dir);
    tokenizer_.set_truncation(std::nullopt);
    tokenizer_.set_padding(std::nullopt);
    tokenizer_dir_ = dir;
    block_ = a.block_size > 0 ? a.block_size : std::min<int64_t>(1024, model_->max_positions());
    FT_CHECK(block_ <= model_->max_positions(), "--block_size ", block_, " is larger than the model's ",
             model_->max_positions(), " positions (", dir, "/config.json)");
    pad_id_ = model_->pad_token_id() >= 0 ? model_->pad_token_id() : std::max<int64_t>(0, model_->eos_token_id());
    if (cmd == Command::train) {
      std::vector<Example> texts = read(a.train_file);
      if (!a.validation_file.empty()) {
        eval_ = finish(read(a.validation_file), a.validation_file);
      } else if (a.eval_strategy != "no" || a.load_best_model_at_end) {
        // A seeded split of the texts (before grouping), as run_clm's validation_split_percentage.
        Generator g(a.seed);
        const size_t n = texts.size(), held = static_cast<size_t>(std::ceil(n * a.validation_split_percentage / 100.0));
        const std::vector<float> u = rand({static_cast<int64_t>(n)}, DType::f32, &g).to_vector<float>();
        std::vector<size_t> order(n);
        for (size_t i = 0; i < n; ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return u[x] < u[y]; });
        std::vector<bool> is_eval(n, false);
        for (size_t i = 0; i < held && i < n; ++i) is_eval[order[i]] = true;
        std::vector<Example> kept, held_out;
        for (size_t i = 0; i < n; ++i) (is_eval[i] ? held_out : kept).push_back(std::move(texts[i]));
        texts = std::move(kept);
        eval_ = finish(std::move(held_out), a.train_file + " (validation split)");
        log += cat("validation: ", held, " texts held out of ", a.train_file, " (--validation_split_percentage ",
                   a.validation_split_percentage, ")\n");
      }
      train_ = finish(std::move(texts), a.train_file);
      if (a.max_train_samples >= 0 && a.max_train_samples < static_cast<int64_t>(train_.size()))
        train_.resize(static_cast<size_t>(a.max_train_samples));
    } else {
      eval_ = finish(read(a.validation_file), a.validation_file);
    }
    if (a.max_eval_samples >= 0 && a.max_eval_samples < static_cast<int64_t>(eval_.size()))
      eval_.resize(static_cast<size_t>(a.max_eval_samples));
  }

  nn::Module& model() override { return *model_; }
  std::string problem_type() const override { return "causal_lm"; }
  int64_t num_labels() const override { return 0; }
  const std::vector<std::string>& label_names() const override { return no_labels_; }
  int64_t size(Split s) const override { return static_cast<int64_t>(data(s).size()); }

  Batch collate(Split s, const std::vector<int64_t>& indices) const override {
    const std::vector<Example>& d = data(s);
    size_t len = 0;
    for (int64_t i : indices) len = std::max(len, d[static_cast<size_t>(i)].ids.size());
    const int64_t b = static_cast<int64_t>(indices.size()), t = static_cast<int64_t>(len);
    std::vector<int64_t> ids(static_cast<size_t>(b * t), pad_id_), mask(ids.size(), 0), labels(ids.size(), -100);
    bool padded = false;
    for (int64_t r = 0; r < b; ++r) {
      const Example& e = d[static_cast<size_t>(indices[r])];
      padded = padded || static_cast<int64_t>(e.ids.size()) < t;
      std::copy(e.ids.begin(), e.ids.end(), ids.begin() + r * t);
      std::copy(e.labels.begin(), e.labels.end(), labels.begin() + r * t);
      std::fill(mask.begin() + r * t, mask.begin() + r * t + static_cast<int64_t>(e.ids.size()), 1);
    }
    // The mask stays on the host (the model builds the additive mask there); none when nothing pads.
    return Batch{{from_vector_i64(ids, {b, t}), padded ? from_vector_i64(mask, {b, t}) : Tensor()},
                 from_vector_i64(labels, {b, t}), b};
  }

  std::vector<int64_t> lengths(Split s) const override {
    std::vector<int64_t> out;
    for (const Example& e : data(s)) out.push_back(static_cast<int64_t>(e.ids.size()));
    return out;
  }

  Tensor logits(const Batch& b, Generator* gen) override { return model_->forward(b.inputs[0].to(device_), b.inputs[1], nullptr, gen); }
  Tensor loss(const Tensor& logits, const Batch& b, double) override {
    return models::causal_lm_loss(logits, b.labels.to(device_));
  }
  void save_model(const std::string& dir, DType dtype) const override {
    models::save_causal_lm(*model_, dir, tokenizer_dir_, dtype);
  }
  void load_model_weights(const std::string& dir) override {
    const std::string msg = models::load_causal_lm(*model_, io::SafetensorsReader(dir + "/model.safetensors"));
    FT_CHECK(msg.empty(), dir, ": the checkpoint does not fit the model: ", msg);
  }
  std::string example_text(Split s, int64_t i) const override { return data(s)[static_cast<size_t>(i)].text; }
  Batch collate_raw(const std::vector<RawInput>&) const override {
    throw Error("ftrain serve does not serve causal language models; use ftrain generate");
  }
  int64_t raw_tokens(const RawInput& in) const override { return static_cast<int64_t>(tokenizer_.encode(in.text).ids.size()); }
  int64_t max_input_length() const override { return block_; }

 private:
  const std::vector<Example>& data(Split s) const { return s == Split::train ? train_ : s == Split::eval ? eval_ : test_; }

  // The file's texts, tokenized (finish() groups them): plain text (.txt: one example per line),
  // CSV/TSV/JSONL (the text column), or JSONL with prompt and completion fields.
  std::vector<Example> read(const std::string& path) {
    FT_CHECK(!path.empty(), "a data file is required");
    std::vector<Example> texts;
    const std::string ext = std::filesystem::path(path).extension().string();
    bool completion_form = false;
    if (ext == ".jsonl" || ext == ".json") {
      std::ifstream f(path);
      std::string first;
      std::getline(f, first);
      const nlohmann::json j = nlohmann::json::parse(first, nullptr, false);
      completion_form = j.is_object() && j.contains("prompt") && j.contains("completion");
    }
    if (completion_form) {
      std::ifstream f(path);
      int64_t line = 0;
      for (std::string s; std::getline(f, s);) {
        ++line;
        if (s.find_first_not_of(" \t\r") == std::string::npos) continue;
        const nlohmann::json j = nlohmann::json::parse(s, nullptr, false);
        FT_CHECK(j.is_object() && j.contains("prompt") && j["prompt"].is_string() && j.contains("completion") &&
                     j["completion"].is_string(),
                 path, ":", line, ": each line must be a JSON object with string fields \"prompt\" and \"completion\"");
        Example e;
        e.text = j["prompt"].get<std::string>() + j["completion"].get<std::string>();
        e.ids = tokenizer_.encode(j["prompt"].get<std::string>()).ids;
        e.labels.assign(e.ids.size(), -100);
        std::vector<int64_t> c = tokenizer_.encode(j["completion"].get<std::string>(), nullptr, false).ids;
        if (model_->eos_token_id() >= 0) c.push_back(model_->eos_token_id());
        e.ids.insert(e.ids.end(), c.begin(), c.end());
        e.labels.insert(e.labels.end(), c.begin(), c.end());
        texts.push_back(std::move(e));
      }
      group_ = false;
    } else if (ext == ".txt") {
      std::ifstream f(path);
      FT_CHECK(f.good(), path, ": cannot open");
      for (std::string s; std::getline(f, s);) texts.push_back(text_example(s));
    } else {
      io::TextDatasetOptions o;
      o.text_column = args_.text_column_name;
      o.label_column = "";
      o.skip_malformed = args_.skip_malformed_rows;
      const io::TextDataset d = io::load_text_dataset(path, o);
      skipped_note(Split::train, path, d.skipped, "malformed rows");
      for (const io::TextExample& x : d.examples) texts.push_back(text_example(x.text));
    }
    FT_CHECK(!texts.empty(), path, ": no texts");
    return texts;
  }

  Example text_example(const std::string& s) const {
    Example e;
    e.text = s;
    e.ids = tokenizer_.encode(s).ids;
    e.labels = e.ids;
    return e;
  }

  // group_texts (all ids concatenated, cut into blocks, the remainder dropped), or per example
  // truncated to the block size.
  std::vector<Example> finish(std::vector<Example> texts, const std::string& where) const {
    std::vector<Example> out;
    if (group_ && !args_.no_group_texts) {
      std::vector<int64_t> all;
      for (const Example& e : texts) all.insert(all.end(), e.ids.begin(), e.ids.end());
      for (size_t at = 0; at + static_cast<size_t>(block_) <= all.size(); at += static_cast<size_t>(block_)) {
        Example e;
        e.ids.assign(all.begin() + static_cast<std::ptrdiff_t>(at), all.begin() + static_cast<std::ptrdiff_t>(at + block_));
        e.labels = e.ids;
        e.text = tokenizer_.decode(e.ids, false);
        out.push_back(std::move(e));
      }
      FT_CHECK(!out.empty() || texts.empty(), where, ": ", all.size(), " tokens in all, fewer than one block of ",
               block_, " (--block_size)");
    } else {
      for (Example& e : texts) {
        if (static_cast<int64_t>(e.ids.size()) > block_) {
          e.ids.resize(static_cast<size_t>(block_));
          e.labels.resize(static_cast<size_t>(block_));
        }
        if (!e.ids.empty()) out.push_back(std::move(e));
      }
    }
    return out;
  }

  TrainArgs args_;
  Device device_;
  std::shared_ptr<models::CausalLM> model_;
  io::Tokenizer tokenizer_;
  std::string tokenizer_dir_;
  int64_t block_ = 1024, pad_id_ = 0;
  bool group_ = true;
  std::vector<Example> train_, eval_, test_;
  std::vector<std::string> no_labels_;
};

}  // namespace

std::unique_ptr<Task> make_causal_lm_task(const TrainArgs& args, Command cmd, Device device, std::string& log) {
  return std::make_unique<CausalLmTask>(args, cmd, device, log);
}

}  // namespace ft::cli
