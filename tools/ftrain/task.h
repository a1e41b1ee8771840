// What the Trainer needs from a task (text classification now, image classification with ResNet):
// the model, the examples of each split as batches, the forward pass, the loss, and saving. The
// Trainer itself knows nothing of tokenizers or images.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/nn/module.h"
#include "core/error.h"
#include "core/random.h"
#include "core/tensor.h"
#include "models/common/lora.h"
#include "tools/ftrain/args.h"

namespace ft::cli {

class Reporter;

enum class Split { train, eval, test };

struct Batch {
  std::vector<Tensor> inputs;  // CPU tensors; the task moves them to the model's device
  Tensor labels;               // undefined when the data has no labels (predict)
  int64_t size = 0;
};

// One input a server received: a text (and its pair when has_pair), or an image file's bytes.
struct RawInput {
  std::string text, text_pair;
  bool has_pair = false;
  std::string image;  // encoded (JPEG, PNG, ...); empty for text
};

class Task {
 public:
  virtual ~Task() = default;
  // The low dtype the model's forward runs under (autocast, core/autocast.h), or f32: no autocast.
  DType autocast_dtype = DType::f32;
  virtual nn::Module& model() = 0;
  virtual std::string problem_type() const = 0;
  virtual int64_t num_labels() const = 0;
  virtual const std::vector<std::string>& label_names() const = 0;
  virtual int64_t size(Split s) const = 0;
  virtual Batch collate(Split s, const std::vector<int64_t>& indices) const = 0;
  // The training epoch about to be collated (random augmentation draws depend on it).
  virtual void set_epoch(int64_t) {}
  // Per-example lengths for --group_by_length (empty: all alike).
  virtual std::vector<int64_t> lengths(Split s) const = 0;
  virtual Tensor logits(const Batch& b, Generator* gen) = 0;
  virtual Tensor loss(const Tensor& logits, const Batch& b, double label_smoothing) = 0;
  // The model as a Hugging Face directory (config, weights, tokenizer or preprocessor files), its
  // floating weights as `dtype` (checkpoints keep f32, so that resuming is exact); with LoRA adapters,
  // a PEFT adapter directory instead (adapter_config.json, adapter_model.safetensors, the tokenizer
  // files and, for a classifier, labels.json).
  void save(const std::string& dir, DType dtype = DType::f32);
  // Replaces the weights (or the adapter's) with a saved directory's (load_best_model_at_end, resume).
  void load_weights_from(const std::string& dir);
  // The file save() writes the weights to: model.safetensors or adapter_model.safetensors.
  std::string weights_file() const { return lora ? "adapter_model.safetensors" : "model.safetensors"; }
  // LoRA (--use_peft, --adapter; tools/ftrain/peft.cpp): the adapters' configuration when the model
  // carries them, and the base model's directory, whose tokenizer files an adapter directory copies.
  std::optional<models::LoraConfig> lora;
  std::string lora_base_dir;
  // An example as prediction output names it (its text, its image path) and that column's name.
  virtual std::string example_text(Split s, int64_t i) const = 0;
  virtual std::string input_name() const { return "text"; }
  // serve: raw inputs preprocessed as predict preprocesses a file's rows (text truncated to
  // --max_seq_length), as one batch without labels. A bad input (an undecodable image) is an
  // ft::Error naming it.
  virtual Batch collate_raw(const std::vector<RawInput>& inputs) const = 0;
  // The tokens a text input has before truncation (0 for images): what batching by tokens counts and
  // what `truncate: false` checks against max_input_length(). Safe to call from several threads.
  virtual int64_t raw_tokens(const RawInput& input) const = 0;
  virtual int64_t max_input_length() const = 0;
  // What the user must hear about the data (rows skipped, a single class), printed as warnings.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Inputs of a split left out under --skip_malformed_rows (so predict can say it wrote fewer rows).
  int64_t skipped(Split s) const { return skipped_[static_cast<int>(s)]; }

 protected:
  // The full model: what save() and load_weights_from() do without adapters.
  virtual void save_model(const std::string& dir, DType dtype) const = 0;
  virtual void load_model_weights(const std::string& dir) = 0;
  void warn(std::string w) { warnings_.push_back(std::move(w)); }
  void skipped_note(Split s, const std::string& where, int64_t n, const char* what) {
    if (n <= 0) return;
    skipped_[static_cast<int>(s)] += n;
    warn(cat(where, ": skipped ", n, " ", what, " (--skip_malformed_rows)"));
  }

 private:
  std::vector<std::string> warnings_;
  int64_t skipped_[3] = {0, 0, 0};
};

// Loads the model and the data the command needs (messages about missing/new weights go to `log`).
std::unique_ptr<Task> make_text_classification(const TrainArgs& args, Command cmd, Device device, std::string& log);
std::unique_ptr<Task> make_image_classification(const TrainArgs& args, Command cmd, Device device, std::string& log);
std::unique_ptr<Task> make_causal_lm_task(const TrainArgs& args, Command cmd, Device device, std::string& log);
// --use_peft / --adapter on a loaded model (model_type bert, llama or gpt2): loads the adapter
// directory given (checking --lora_r against it when --use_peft is given too), or attaches new adapters
// from the --lora_* options; everything but the adapters and the modules to save is frozen. Returns
// the configuration (nullopt when neither option is given) and fills `loaded` with the parameters the
// adapter file set (a classifier head among them). What it did goes to `log`.
std::optional<models::LoraConfig> apply_peft(const TrainArgs& args, Command cmd, nn::Module& model,
                                             const std::string& model_type, const std::string& task_type,
                                             Generator* gen, std::string& log);
// The label names and problem type an adapter directory's labels.json holds (false when it has none).
bool read_adapter_labels(const std::string& dir, std::vector<std::string>& names, std::string& problem_type);

// By --task, or for eval and predict by the model's config (model_type resnet: images). What loading
// had to say (weights initialised or unused, rows skipped) goes to the reporter.
std::unique_ptr<Task> make_task(const TrainArgs& args, Command cmd, Device device, Reporter& rep);

}  // namespace ft::cli
