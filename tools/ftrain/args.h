// The options of train / eval / predict, named and defaulted as Hugging Face's TrainingArguments and
// example scripts name them (../shared/reference/hf-reference.md section 5), grouped for --help.
// --config FILE reads YAML or JSON whose keys are these names; flags on the command line win.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/config.h"

namespace ft::cli {

struct TrainArgs {
  // Model and data
  std::string model_name_or_path, config_name, task = "auto", problem_type;
  std::string train_file, validation_file, test_file;
  std::string text_column_name = "text", text_pair_column_name, label_column_name = "label";
  // Images: folders (root/<class>/<file>) or CSV manifests (image_column_name, label_column_name).
  std::string train_dir, validation_dir, test_dir, image_column_name = "image";
  int64_t image_size = 0;  // 0: the preprocessor's size, or the images' own
  double random_resized_crop_min_scale = 0.08, horizontal_flip_probability = 0.5;
  int64_t max_seq_length = 128;
  int64_t block_size = 0;        // causal-lm: tokens per example (0: min(1024, the model's positions))
  bool no_group_texts = false;   // causal-lm: one example per text (padded) instead of concatenated blocks
  double validation_split_percentage = 10;  // carved from train_file when no validation_file is given
  int64_t max_train_samples = -1, max_eval_samples = -1, max_predict_samples = -1;
  bool skip_malformed_rows = false;
  int64_t max_image_pixels = 89478485;  // Pillow's Image.MAX_IMAGE_PIXELS (a 0.25 GiB RGB image); 0: none
  // Output
  std::string output_dir, output_file;
  bool overwrite_output_dir = false;
  // Optimisation
  double num_train_epochs = 3.0;
  int64_t max_steps = -1;
  int64_t per_device_train_batch_size = 8, per_device_eval_batch_size = 8, gradient_accumulation_steps = 1;
  double learning_rate = 5e-5, weight_decay = 0.0, adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  double max_grad_norm = 1.0, label_smoothing_factor = 0.0;
  std::string lr_scheduler_type = "linear";
  double warmup_ratio = 0.0;
  int64_t warmup_steps = 0;
  std::vector<std::string> freeze;  // regular expressions over parameter names
  // LoRA (PEFT's LoraConfig under TRL's option names; models/common/lora.h)
  bool use_peft = false, use_rslora = false;
  int64_t lora_r = 8;
  double lora_alpha = 16, lora_dropout = 0.05;
  std::vector<std::string> lora_target_modules;  // empty: PEFT's default for the model type
  std::vector<std::string> lora_modules_to_save;
  std::string adapter;  // a PEFT adapter directory on top of model_name_or_path
  // Evaluation, checkpoints, best model
  std::string eval_strategy = "no", save_strategy = "steps";
  int64_t eval_steps = -1, save_steps = 500, save_total_limit = -1, logging_steps = 500;
  bool logging_first_step = false, load_best_model_at_end = false, eval_on_start = false;
  std::string metric_for_best_model, greater_is_better = "auto";
  int64_t early_stopping_patience = -1;
  std::string resume_from_checkpoint;
  bool skip_nonfinite_loss = false;
  // Runtime
  uint64_t seed = 42;
  std::string device = "auto";
  int threads = 0;
  int dataloader_num_workers = 0;
  int zero_stage = 0;
  // serve (tools/ftrain/serve.cpp): where it listens and how it batches (TEI's names and defaults
  // where TEI has them).
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (printed at start)
  int64_t max_batch_tokens = 16384, max_batch_size = 32, max_wait_ms = 5, max_concurrent_requests = 512;
  int64_t payload_limit = 2000000;  // bytes of a request body
  std::string api_key;              // or FTRAIN_API_KEY; empty: no authentication  // --zero 1: data parallel with the optimizer state sharded over the ranks (ZeRO-1)
  bool group_by_length = false;
  bool bf16 = false;  // mixed precision: autocast to bf16 (core/autocast.h), f32 master weights
  bool fp16 = false;  // the same with f16, plus dynamic loss scaling (core/optim/grad_scaler.h)
  std::string save_dtype = "f32";  // the final model's weights: f32, bf16 or fp16 (checkpoints stay f32)
  bool disable_tqdm = false, quiet = false;
  std::string log_format = "text";  // text or json (JSON lines on stdout)
  std::string config;
  std::string conv_implementation = "auto";  // the backend's library (cuDNN, oneDNN) where present, or native

  io::Json to_json() const;  // what checkpoints record as training_args.json
};

// --save_dtype's value as a dtype.
DType save_dtype(const std::string& name);

enum class Command { train, eval, predict, serve };

// Registers the options that `cmd` uses on `app`, bound to `args`, plus --config.
void add_options(CLI::App* app, TrainArgs& args, Command cmd);

// Sets every option of `app` that the command line left alone from the --config file.
void apply_config(CLI::App* app, const std::string& path);

// Checks values CLI11 cannot (ranges, combinations); throws ft::Error naming the option.
void validate(const TrainArgs& args, Command cmd);

// "eval_accuracy" for "accuracy", as the Trainer prefixes metric_for_best_model.
std::string eval_key(const std::string& metric);
bool greater_is_better(const TrainArgs& args);

}  // namespace ft::cli
