#include "tools/ftrain/args.h"
#include "tools/ftrain/commands.h"

#include <omp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/ops.h"

extern "C" void openblas_set_num_threads(int);

namespace ft::cli {
namespace {

const std::vector<std::string> kSchedulers = {"linear", "cosine", "constant", "constant_with_warmup"};
const std::vector<std::string> kStrategies = {"no", "steps", "epoch"};

}  // namespace

void add_options(CLI::App* app, TrainArgs& a, Command cmd) {
  // A repeated option takes its last value, as argparse (and so the Hugging Face scripts) does.
  app->option_defaults()->always_capture_default()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  const bool train = cmd == Command::train;
  const char* model_help = train ? "pretrained model directory (config.json, model.safetensors, tokenizer files)"
                                 : "fine-tuned model directory (what ftrain train saved)";
  const std::string md = "Model and data";
  app->add_option("--model_name_or_path", a.model_name_or_path, model_help)->group(md);
  app->add_option("--task", a.task, "what the model learns (auto: from the model's config)")
      ->check(CLI::IsMember({"auto", "text-classification", "image-classification", "causal-lm"}))->group(md);
  if (train) {
    app->add_option("--config_name", a.config_name, "a config (file or directory) to train from random initialisation")
        ->group(md);
    app->add_option("--train_file", a.train_file, "training data: .csv, .tsv, .tab or .jsonl (images: a CSV manifest)")
        ->group(md);
    app->add_option("--train_dir", a.train_dir, "training images: a folder of class folders")->group(md);
    app->add_option("--validation_dir", a.validation_dir, "evaluation images: a folder of class folders")->group(md);
    app->add_option("--test_dir", a.test_dir, "images evaluated once after training")->group(md);
    app->add_option("--validation_file", a.validation_file, "evaluation data (default: a split of train_file)")->group(md);
    app->add_option("--validation_split_percentage", a.validation_split_percentage,
                    "percent of train_file held out for evaluation when there is no validation_file")->group(md);
    app->add_option("--test_file", a.test_file, "data evaluated once after training")->group(md);
    app->add_option("--problem_type", a.problem_type, "default: inferred from the labels")
        ->check(CLI::IsMember({"", "single_label_classification", "multi_label_classification", "regression"}))
        ->group(md);
    app->add_option("--max_train_samples", a.max_train_samples, "use the first N training examples")->group(md);
  } else if (cmd != Command::serve) {
    app->add_option(cmd == Command::eval ? "--validation_dir,--test_dir" : "--test_dir",
                    cmd == Command::eval ? a.validation_dir : a.test_dir, "images: a folder of class folders")
        ->group(md);
    app->add_option(cmd == Command::eval ? "--validation_file,--test_file" : "--test_file",
                    cmd == Command::eval ? a.validation_file : a.test_file, "data file: .csv, .tsv, .tab or .jsonl")
        ->group(md);
  }
  app->add_option("--text_column_name", a.text_column_name, "column with the text")->group(md);
  app->add_option("--text_pair_column_name", a.text_pair_column_name, "column with the second text of a pair")
      ->group(md);
  if (cmd != Command::predict)
    app->add_option("--label_column_name", a.label_column_name, "column with the label")->group(md);
  app->add_option("--max_seq_length", a.max_seq_length, "longer inputs are truncated")->group(md);
  app->add_option("--block_size", a.block_size,
                  "causal-lm: tokens per training example (default: min(1024, the model's positions))")->group(md);
  app->add_flag("--no_group_texts", a.no_group_texts,
                "causal-lm: each text its own example (truncated to block_size, padded) instead of concatenated "
                "blocks")->group(md);
  app->add_option("--image_column_name", a.image_column_name, "image manifests: the column with the file path")
      ->group(md);
  app->add_option("--image_size", a.image_size, "resize images to N x N (default: the preprocessor's size)")->group(md);
  if (train) {
    app->add_option("--random_resized_crop_min_scale", a.random_resized_crop_min_scale,
                    "training images: RandomResizedCrop's smallest area fraction (0: no random crop)")->group(md);
    app->add_option("--horizontal_flip_probability", a.horizontal_flip_probability, "training images")->group(md);
  }
  app->add_option("--max_eval_samples", a.max_eval_samples, "use the first N evaluation examples")->group(md);
  if (cmd == Command::predict)
    app->add_option("--max_predict_samples", a.max_predict_samples, "use the first N examples")->group(md);
  app->add_flag("--skip_malformed_rows", a.skip_malformed_rows, "skip (and count) malformed data rows and unreadable images")
      ->group(md);
  app->add_option("--max_image_pixels", a.max_image_pixels,
                  "larger images are refused before decoding (Pillow's MAX_IMAGE_PIXELS; 0: no limit)")->group(md);

  if (cmd == Command::serve) {
    const std::string sv = "Serving";
    app->add_option("--host", a.host, "address to listen on (default: loopback only)")->group(sv);
    app->add_option("--port", a.port, "port (0: any free port, printed at start)")
        ->check(CLI::Range(0, 65535))->group(sv);
    app->add_option("--max_batch_tokens", a.max_batch_tokens, "tokens per batch the model runs at most")->group(sv);
    app->add_option("--max_batch_size", a.max_batch_size, "inputs per batch (and per request) at most")->group(sv);
    app->add_option("--max_wait_ms", a.max_wait_ms, "how long a batch waits for more requests after its first")
        ->group(sv);
    app->add_option("--max_concurrent_requests", a.max_concurrent_requests,
                    "requests queued or running at most; more are answered 429")->group(sv);
    app->add_option("--payload_limit", a.payload_limit, "bytes of a request body at most (413 beyond)")->group(sv);
    app->add_option("--api_key", a.api_key, "require Authorization: Bearer KEY (or set FTRAIN_API_KEY)")->group(sv);
  }
  const std::string out = "Output";
  if (cmd == Command::predict)
    app->add_option("--output_file", a.output_file, "predictions: .csv or .jsonl")->group(out);
  if (cmd != Command::serve) {
    app->add_option("--output_dir", a.output_dir,
                    train ? "where the model, checkpoints and logs go" : "where the results go (optional)")
        ->group(out);
    app->add_flag("--overwrite_output_dir", a.overwrite_output_dir, "allow a non-empty output_dir")->group(out);
  }

  if (train) {
    const std::string opt = "Optimisation";
    app->add_option("--num_train_epochs", a.num_train_epochs, "epochs (fractions allowed)")->group(opt);
    app->add_option("--max_steps", a.max_steps, "optimizer steps; > 0 overrides num_train_epochs")->group(opt);
    app->add_option("--per_device_train_batch_size", a.per_device_train_batch_size)->group(opt);
    app->add_flag("--group_by_length", a.group_by_length, "batch examples of similar length together (less padding)")
        ->group(opt);
    app->add_option("--gradient_accumulation_steps", a.gradient_accumulation_steps,
                    "micro-batches per optimizer step")->group(opt);
    app->add_option("--learning_rate", a.learning_rate, "peak AdamW learning rate")->group(opt);
    app->add_option("--weight_decay", a.weight_decay, "decoupled; not on biases and LayerNorm weights")->group(opt);
    app->add_option("--adam_beta1", a.adam_beta1)->group(opt);
    app->add_option("--adam_beta2", a.adam_beta2)->group(opt);
    app->add_option("--adam_epsilon", a.adam_epsilon)->group(opt);
    app->add_option("--max_grad_norm", a.max_grad_norm, "global L2 gradient clipping (0: off)")->group(opt);
    app->add_option("--lr_scheduler_type", a.lr_scheduler_type)->check(CLI::IsMember(kSchedulers))->group(opt);
    app->add_option("--warmup_ratio", a.warmup_ratio, "fraction of the steps spent warming up")->group(opt);
    app->add_option("--warmup_steps", a.warmup_steps, "overrides warmup_ratio when > 0")->group(opt);
    app->add_option("--label_smoothing_factor", a.label_smoothing_factor)->group(opt);
    app->add_option("--freeze", a.freeze, "freeze parameters whose names match this regular expression (repeatable)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->group(opt);
    app->add_flag("--skip_nonfinite_loss", a.skip_nonfinite_loss,
                  "skip a step whose loss is NaN or infinite instead of stopping")->group(opt);

    const std::string lo = "LoRA (PEFT)";
    app->add_flag("--use_peft", a.use_peft, "train LoRA adapters instead of the whole model (saved as a PEFT adapter)")
        ->group(lo);
    app->add_option("--lora_r", a.lora_r, "LoRA rank")->group(lo);
    app->add_option("--lora_alpha", a.lora_alpha, "LoRA alpha: the update is scaled by alpha / r")->group(lo);
    app->add_option("--lora_dropout", a.lora_dropout, "dropout on the adapters' input")->group(lo);
    app->add_option("--lora_target_modules", a.lora_target_modules,
                    "linear layers to adapt: names (query, q_proj, ...), or all-linear (default: PEFT's for the model "
                    "type)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->delimiter(',')->group(lo);
    app->add_option("--lora_modules_to_save", a.lora_modules_to_save,
                    "modules trained fully and saved with the adapter (a classifier's head always is)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)->delimiter(',')->group(lo);
    app->add_flag("--use_rslora", a.use_rslora, "rank-stabilised LoRA: scale by alpha / sqrt(r)")->group(lo);

    const std::string ev = "Evaluation and checkpoints";
    app->add_option("--eval_strategy", a.eval_strategy)->check(CLI::IsMember(kStrategies))->group(ev);
    app->add_option("--eval_steps", a.eval_steps, "default: logging_steps")->group(ev);
    app->add_flag("--eval_on_start", a.eval_on_start, "evaluate the untrained model first (the baseline)")->group(ev);
    app->add_option("--save_strategy", a.save_strategy)->check(CLI::IsMember(kStrategies))->group(ev);
    app->add_option("--save_steps", a.save_steps)->group(ev);
    app->add_option("--save_total_limit", a.save_total_limit, "keep the newest N checkpoints (and the best)")
        ->group(ev);
    app->add_option("--logging_steps", a.logging_steps)->group(ev);
    app->add_flag("--logging_first_step", a.logging_first_step)->group(ev);
    app->add_flag("--load_best_model_at_end", a.load_best_model_at_end,
                  "end with the best checkpoint's weights (save_strategy must match eval_strategy)")->group(ev);
    app->add_option("--metric_for_best_model", a.metric_for_best_model, "default: loss")->group(ev);
    app->add_option("--greater_is_better", a.greater_is_better, "default: true unless the metric is a loss")
        ->check(CLI::IsMember({"auto", "true", "false"}))->group(ev);
    app->add_option("--early_stopping_patience", a.early_stopping_patience,
                    "stop after N evaluations without improvement")->group(ev);
    app->add_option("--resume_from_checkpoint", a.resume_from_checkpoint,
                    "a checkpoint directory, or 'latest' in output_dir")->group(ev);
  }
  app->add_option("--adapter", a.adapter,
                  train ? "a PEFT adapter directory to continue training (on --model_name_or_path, its base)"
                        : "a PEFT adapter directory applied on --model_name_or_path (its base model)")
      ->group(md);
  const std::string run = "Run";
  app->add_option("--config", a.config, "YAML or JSON file of options (keys are the option names); flags win")
      ->group(run);
  app->add_option("--per_device_eval_batch_size", a.per_device_eval_batch_size)->group(run);
  // A negative seed would wrap around to 2^64 - 1 in the unsigned field: refused as text first.
  const CLI::Validator non_negative(
      [](std::string& v) { return v.find('-') != std::string::npos ? "must be >= 0, got " + v : std::string(); },
      "INT >= 0");
  app->add_option("--seed", a.seed)->check(non_negative)->group(run);
  app->add_option("--device", a.device, "auto, cpu or cuda:N")->group(run);
  app->add_option("--threads", a.threads, "CPU threads (0: all cores)")->group(run);
  app->add_option("--conv_implementation", a.conv_implementation,
                  "convolution and batch norm: auto (cuDNN on CUDA, oneDNN on the CPU), cudnn, onednn, or native "
                  "(im2col + GEMM, the reference)")
      ->check(CLI::IsMember({"auto", "cudnn", "onednn", "native"}))->group(run);
  app->add_flag("--bf16", a.bf16,
                "mixed precision: matmuls, convolutions and attention in bf16 with f32 accumulation, f32 master "
                "weights (the Trainer's bf16=True; README: Mixed precision)")->group(run);
  app->add_flag("--fp16", a.fp16,
                "mixed precision in f16 with dynamic loss scaling (GradScaler's rules; the Trainer's fp16=True); "
                "slow on the CPU, which has no f16 GEMM kernels")->group(run);
  if (train)
    app->add_option("--save_dtype", a.save_dtype,
                    "the final model's weights: f32 (the default, as the Trainer saves), bf16 or fp16; checkpoints "
                    "stay f32")
        ->check(CLI::IsMember({"f32", "bf16", "fp16"}))->group(run);
  app->add_option("--dataloader_num_workers", a.dataloader_num_workers, "threads preparing batches")->group(run);
  app->add_option("--zero", a.zero_stage,
                  "under mpirun: 1 shards AdamW's state over the ranks (ZeRO stage 1); 0 (default) keeps it whole on every rank")
      ->group(run);
  app->add_flag("--disable_tqdm", a.disable_tqdm, "plain progress lines even on a terminal")->group(run);
  app->add_flag("--quiet", a.quiet, "only errors and the final summary")->group(run);
  app->add_option("--log_format", a.log_format, "text, or json for one JSON object per line")
      ->check(CLI::IsMember({"text", "json"}))->group(run);
}

void apply_config(CLI::App* app, const std::string& path) {
  if (path.empty()) return;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw Error(cat("--config ", path, ": cannot open"));
  } catch (const YAML::Exception& e) {
    throw Error(cat("--config ", path, ": ", e.what()));
  }
  if (root.IsNull()) return;
  FT_CHECK(root.IsMap(), "--config ", path, ": the file must map option names to values");
  for (const auto& kv : root) {
    const std::string key = kv.first.as<std::string>();
    CLI::Option* op = app->get_option_no_throw("--" + key);
    FT_CHECK(op != nullptr && key != "config", "--config ", path, ": '", key, "' is not an option of ftrain ",
             app->get_name(), " (see ftrain ", app->get_name(), " --help)");
    if (op->count() > 0) continue;  // given on the command line: that wins
    std::vector<std::string> values;
    if (kv.second.IsSequence()) {
      for (const auto& v : kv.second) values.push_back(v.as<std::string>());
    } else {
      FT_CHECK(kv.second.IsScalar(), "--config ", path, ": '", key, "' must be a value or a list of values");
      values.push_back(kv.second.as<std::string>());
    }
    try {
      op->add_result(values);
      op->run_callback();
    } catch (const CLI::Error& e) {
      throw Error(cat("--config ", path, ": '", key, "': ", e.what()));
    }
  }
}

void validate(const TrainArgs& a, Command cmd) {
  auto given = [](const std::string& v, const char* name) { FT_CHECK(!v.empty(), "--", name, " is required"); };
  auto either = [](const std::string& x, const std::string& y, const char* what) {
    FT_CHECK(!x.empty() || !y.empty(), what, " is required");
  };
  if (cmd == Command::train) {
    either(a.model_name_or_path, a.config_name, "--model_name_or_path (or --config_name to train from scratch)");
    either(a.train_file, a.train_dir, "--train_file (or --train_dir for images)");
    given(a.output_dir, "output_dir");
  } else {
    given(a.model_name_or_path, "model_name_or_path");
  }
  if (cmd == Command::eval) either(a.validation_file, a.validation_dir, "--validation_file (or --validation_dir)");
  if (cmd == Command::predict) either(a.test_file, a.test_dir, "--test_file (or --test_dir)"), given(a.output_file, "output_file");
  if (cmd == Command::serve) {
    for (const auto& [name, v] : std::vector<std::pair<const char*, int64_t>>{
             {"max_batch_tokens", a.max_batch_tokens}, {"max_batch_size", a.max_batch_size},
             {"max_concurrent_requests", a.max_concurrent_requests}, {"payload_limit", a.payload_limit}})
      FT_CHECK(v > 0, "--", name, " must be positive, got ", v);
    FT_CHECK(a.max_wait_ms >= 0 && a.max_wait_ms <= 60000, "--max_wait_ms must be 0 to 60000, got ", a.max_wait_ms);
  }
  auto positive = [](int64_t v, const char* name) { FT_CHECK(v > 0, "--", name, " must be positive, got ", v); };
  positive(a.per_device_eval_batch_size, "per_device_eval_batch_size");
  positive(a.max_seq_length, "max_seq_length");
  FT_CHECK(a.threads >= 0 && a.dataloader_num_workers >= 0, "--threads and --dataloader_num_workers must be >= 0");
  FT_CHECK(a.zero_stage == 0 || a.zero_stage == 1, "--zero ", a.zero_stage,
           ": ZeRO stage 1 (optimizer state sharded) or 0 (off) are supported");
  // More threads than a few per core only make them wait for each other (and 100,000 never start).
  const int cores = std::max(1, omp_get_num_procs());
  FT_CHECK(a.threads <= 4 * cores, "--threads ", a.threads, ": this machine has ", cores, " cores; use at most ",
           4 * cores, " (0: one per core)");
  FT_CHECK(a.dataloader_num_workers <= 64, "--dataloader_num_workers ", a.dataloader_num_workers, ": use at most 64");
  FT_CHECK(a.max_image_pixels >= 0, "--max_image_pixels must be >= 0 (0: no limit), got ", a.max_image_pixels);
  FT_CHECK(a.device == "auto" || a.device == "cpu" || a.device.rfind("cuda", 0) == 0, "--device '", a.device,
           "' is not one of auto, cpu, cuda:N");
  if (cmd != Command::train) return;
  FT_CHECK(a.lora_r > 0, "--lora_r: `r` should be a positive integer value but the value passed is ", a.lora_r);
  FT_CHECK(std::isfinite(a.lora_alpha) && a.lora_alpha > 0, "--lora_alpha must be positive, got ", a.lora_alpha);
  FT_CHECK(a.lora_dropout >= 0 && a.lora_dropout < 1, "--lora_dropout must be in [0, 1), got ", a.lora_dropout);
  positive(a.per_device_train_batch_size, "per_device_train_batch_size");
  positive(a.gradient_accumulation_steps, "gradient_accumulation_steps");
  positive(a.logging_steps, "logging_steps");
  // Every number must be finite: inf or nan (which strtod reads) would train to NaN or never end.
  for (const auto& [name, v] : std::vector<std::pair<const char*, double>>{
           {"num_train_epochs", a.num_train_epochs}, {"learning_rate", a.learning_rate},
           {"weight_decay", a.weight_decay}, {"adam_beta1", a.adam_beta1}, {"adam_beta2", a.adam_beta2},
           {"adam_epsilon", a.adam_epsilon}, {"max_grad_norm", a.max_grad_norm},
           {"label_smoothing_factor", a.label_smoothing_factor}, {"warmup_ratio", a.warmup_ratio},
           {"validation_split_percentage", a.validation_split_percentage},
           {"random_resized_crop_min_scale", a.random_resized_crop_min_scale},
           {"horizontal_flip_probability", a.horizontal_flip_probability}})
    FT_CHECK(std::isfinite(v), "--", name, " must be a finite number, got ", v);
  FT_CHECK(a.max_steps > 0 || a.num_train_epochs > 0, "--num_train_epochs must be positive (or give --max_steps)");
  FT_CHECK(a.learning_rate >= 0, "--learning_rate must be >= 0, got ", a.learning_rate);
  FT_CHECK(a.weight_decay >= 0, "--weight_decay must be >= 0, got ", a.weight_decay);
  FT_CHECK(a.adam_beta1 >= 0 && a.adam_beta1 < 1 && a.adam_beta2 >= 0 && a.adam_beta2 < 1,
           "--adam_beta1 and --adam_beta2 must be in [0, 1), got ", a.adam_beta1, " and ", a.adam_beta2);
  FT_CHECK(a.adam_epsilon > 0, "--adam_epsilon must be positive, got ", a.adam_epsilon);
  FT_CHECK(a.max_grad_norm >= 0, "--max_grad_norm must be >= 0 (0: no clipping), got ", a.max_grad_norm);
  FT_CHECK(a.random_resized_crop_min_scale >= 0 && a.random_resized_crop_min_scale <= 1,
           "--random_resized_crop_min_scale must be in [0, 1], got ", a.random_resized_crop_min_scale);
  FT_CHECK(a.horizontal_flip_probability >= 0 && a.horizontal_flip_probability <= 1,
           "--horizontal_flip_probability must be in [0, 1], got ", a.horizontal_flip_probability);
  FT_CHECK(a.label_smoothing_factor >= 0 && a.label_smoothing_factor < 1, "--label_smoothing_factor must be in [0, 1)");
  FT_CHECK(a.warmup_ratio >= 0 && a.warmup_ratio <= 1, "--warmup_ratio must be in [0, 1], got ", a.warmup_ratio);
  FT_CHECK(a.validation_split_percentage > 0 && a.validation_split_percentage < 100,
           "--validation_split_percentage must be in (0, 100)");
  if (a.save_strategy == "steps") positive(a.save_steps, "save_steps");
  if (a.load_best_model_at_end) {
    FT_CHECK(a.eval_strategy != "no", "--load_best_model_at_end needs an --eval_strategy (steps or epoch)");
    FT_CHECK(a.save_strategy == a.eval_strategy, "--load_best_model_at_end needs --save_strategy (", a.save_strategy,
             ") equal to --eval_strategy (", a.eval_strategy, ")");
    if (a.eval_strategy == "steps") {
      const int64_t every = a.eval_steps > 0 ? a.eval_steps : a.logging_steps;
      FT_CHECK(a.save_steps % every == 0, "--load_best_model_at_end needs --save_steps (", a.save_steps,
               ") to be a multiple of --eval_steps (", every, ")");
    }
  }
  FT_CHECK(a.early_stopping_patience < 0 || a.eval_strategy != "no",
           "--early_stopping_patience needs an --eval_strategy (steps or epoch)");
}

std::string eval_key(const std::string& metric) {
  const std::string m = metric.empty() ? "loss" : metric;
  return m.rfind("eval_", 0) == 0 ? m : "eval_" + m;
}

bool greater_is_better(const TrainArgs& a) {
  if (a.greater_is_better != "auto") return a.greater_is_better == "true";
  const std::string k = eval_key(a.metric_for_best_model);
  return !(k.size() >= 4 && k.compare(k.size() - 4, 4, "loss") == 0);
}

DType save_dtype(const std::string& name) {
  if (name == "bf16") return DType::bf16;
  if (name == "fp16") return DType::f16;
  FT_CHECK(name == "f32", "--save_dtype: '", name, "' is not one of f32, bf16, fp16");
  return DType::f32;
}

io::Json TrainArgs::to_json() const {
  io::Json j;
  j["model_name_or_path"] = model_name_or_path, j["config_name"] = config_name, j["task"] = task;
  j["problem_type"] = problem_type, j["train_dir"] = train_dir, j["validation_dir"] = validation_dir;
  j["test_dir"] = test_dir, j["image_column_name"] = image_column_name, j["image_size"] = image_size;
  j["random_resized_crop_min_scale"] = random_resized_crop_min_scale;
  j["horizontal_flip_probability"] = horizontal_flip_probability;
  j["train_file"] = train_file, j["validation_file"] = validation_file, j["test_file"] = test_file;
  j["text_column_name"] = text_column_name, j["text_pair_column_name"] = text_pair_column_name;
  j["label_column_name"] = label_column_name, j["max_seq_length"] = max_seq_length;
  j["block_size"] = block_size, j["no_group_texts"] = no_group_texts;
  j["validation_split_percentage"] = validation_split_percentage, j["max_train_samples"] = max_train_samples;
  j["output_dir"] = output_dir, j["num_train_epochs"] = num_train_epochs, j["max_steps"] = max_steps;
  j["per_device_train_batch_size"] = per_device_train_batch_size;
  j["per_device_eval_batch_size"] = per_device_eval_batch_size;
  j["gradient_accumulation_steps"] = gradient_accumulation_steps, j["learning_rate"] = learning_rate;
  j["weight_decay"] = weight_decay, j["adam_beta1"] = adam_beta1, j["adam_beta2"] = adam_beta2;
  j["adam_epsilon"] = adam_epsilon, j["max_grad_norm"] = max_grad_norm;
  j["label_smoothing_factor"] = label_smoothing_factor, j["lr_scheduler_type"] = lr_scheduler_type;
  j["warmup_ratio"] = warmup_ratio, j["warmup_steps"] = warmup_steps, j["freeze"] = freeze;
  j["eval_strategy"] = eval_strategy, j["eval_steps"] = eval_steps, j["save_strategy"] = save_strategy;
  j["save_steps"] = save_steps, j["save_total_limit"] = save_total_limit, j["logging_steps"] = logging_steps;
  j["eval_on_start"] = eval_on_start, j["load_best_model_at_end"] = load_best_model_at_end, j["metric_for_best_model"] = metric_for_best_model;
  j["greater_is_better"] = greater_is_better, j["early_stopping_patience"] = early_stopping_patience;
  j["seed"] = seed, j["device"] = device, j["dataloader_num_workers"] = dataloader_num_workers;
  j["zero_stage"] = zero_stage;
  j["group_by_length"] = group_by_length, j["max_image_pixels"] = max_image_pixels;
  j["skip_malformed_rows"] = skip_malformed_rows, j["bf16"] = bf16, j["fp16"] = fp16;
  j["save_dtype"] = save_dtype;
  j["use_peft"] = use_peft, j["lora_r"] = lora_r, j["lora_alpha"] = lora_alpha, j["lora_dropout"] = lora_dropout;
  j["lora_target_modules"] = lora_target_modules, j["lora_modules_to_save"] = lora_modules_to_save;
  j["use_rslora"] = use_rslora, j["adapter"] = adapter;
  return j;
}

void add_command(CLI::App& app, const char* name, const char* help, Command cmd, RunFn run, DeviceResolver resolve) {
  CLI::App* sub = app.add_subcommand(name, help);
  auto args = std::make_shared<TrainArgs>();
  add_options(sub, *args, cmd);
  sub->callback([sub, args, run, resolve] {
    apply_config(sub, args->config);
    set_cpu_threads(args->threads);
    set_conv_implementation(args->conv_implementation);
    const int rc = run(*args, resolve(args->device));
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

void set_cpu_threads(int threads) {
  if (threads <= 0) return;
  omp_set_num_threads(threads);
  openblas_set_num_threads(threads);
}

}  // namespace ft::cli
