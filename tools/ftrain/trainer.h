// The training loop with the Hugging Face Trainer's semantics (../shared/reference/hf-reference.md
// section 5): AdamW with the Trainer's weight-decay groups, a scheduler by name, gradient
// accumulation (each micro-batch's loss weighted by its share of the examples of the optimizer step,
// so k micro-batches make the same update as one batch k times as large), global-norm clipping,
// evaluation and checkpoints by steps or epochs, best-model tracking, early stopping, exact resume,
// NaN/inf detection, and Ctrl-C saving a checkpoint. Task-agnostic: the Task supplies model and data.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/autocast.h"
#include "core/dist/dist.h"
#include "core/dist/reducer.h"
#include "core/optim/grad_scaler.h"
#include "core/optim/lr_schedule.h"
#include "core/optim/optimizer.h"
#include "io/config.h"
#include "io/loader.h"
#include "tools/ftrain/metrics.h"
#include "tools/ftrain/report.h"
#include "tools/ftrain/task.h"

namespace ft::cli {

class Trainer {
 public:
  Trainer(const TrainArgs& args, Task& task, Reporter& reporter);
  ~Trainer();
  // Trains (resuming when asked), saves the final model to output_dir and returns the train metrics
  // (train_runtime, train_loss, ...). interrupted() tells whether a signal (SIGINT, SIGTERM, SIGHUP)
  // ended it early, after saving a checkpoint; exit_status() is then 128 + its number.
  io::Json train();
  bool interrupted() const { return interrupt_signal_ != 0; }
  int exit_status() const { return interrupted() ? 128 + interrupt_signal_ : 0; }
  // Evaluates a split: "<prefix>_loss" and "<prefix>_<metric>" (+ runtime), and the predictions.
  io::Json evaluate(Split s, const std::string& prefix, Metrics* metrics = nullptr);
  const io::Json& state() const { return state_; }  // trainer_state.json
  int64_t global_step() const { return global_step_; }
  // The evaluation made at the final step with the final weights, if any (so it need not be repeated).
  const io::Json* final_evaluation(Metrics* m) const {
    if (last_eval_step_ != global_step_ || weights_replaced_) return nullptr;
    *m = last_metrics_;
    return &last_eval_;
  }

 private:
  struct StepResult {
    double loss = 0, grad_norm = 0, lr = 0;
    bool skipped = false, epoch_end = false;
  };
  StepResult train_step();
  void log(io::Json entry);
  bool maybe_evaluate_and_save(bool epoch_end, bool last);
  void save_checkpoint();  // collective: every rank calls it
  void save_checkpoint_files(const std::vector<std::string>& rng_states,
                             const std::map<std::string, optim::AdamW::State>& opt_state);  // rank 0
  // The files (but rng_state), into tmp.
  void write_checkpoint(const std::string& tmp, const std::map<std::string, optim::AdamW::State>& opt_state);
  void load_checkpoint(const std::string& dir);
  void rotate_checkpoints();
  std::string checkpoint_dir(int64_t step) const;

  bool sharded() const { return !owner_.empty() && owner_.front() >= 0; }  // --zero 1 over several ranks
  // AdamW's state of every trainable tensor by name (under --zero 1 each from its owner: collective).
  std::map<std::string, optim::AdamW::State> optimizer_state();
  std::string rng_state_file() const;  // rng_state.json, or rng_state_<rank>.json with several ranks

  TrainArgs args_;
  Task& task_;
  Reporter& reporter_;
  dist::Group* group_;                              // the ranks training together (a world of one without mpirun)
  std::unique_ptr<dist::GradientReducer> reducer_;  // several ranks: the gradient all-reduce
  std::vector<int> owner_;  // --zero 1: the rank updating each trainable tensor (-1: every rank)
  std::vector<Tensor> trainable_;
  std::vector<std::string> trainable_names_;
  std::unique_ptr<optim::AdamW> optimizer_;
  autocast::WeightCache amp_cache_;  // --bf16/--fp16: this step's low-precision weight copies
  std::optional<optim::GradScaler> scaler_;  // --fp16's loss scaler (scaler.json in checkpoints)
  std::unique_ptr<optim::LrScheduler> scheduler_;
  std::unique_ptr<io::Loader<Batch>> loader_;
  Generator gen_;
  int64_t steps_per_epoch_ = 0, total_steps_ = 0, global_step_ = 0, epoch_ = 0;
  int64_t examples_seen_ = 0;
  double window_loss_ = 0;
  int64_t window_steps_ = 0;
  double total_loss_ = 0;
  int64_t total_loss_steps_ = 0;
  io::Json state_;  // trainer_state.json: log_history, best_metric, best_model_checkpoint, ...
  io::Json last_eval_;
  Metrics last_metrics_;
  int64_t last_eval_step_ = -1;
  bool weights_replaced_ = false;
  int64_t evals_without_improvement_ = 0;
  bool stop_ = false;
  int interrupt_signal_ = 0;
};

// Runs the model over a split without gradients: logits and labels, and the summed loss when labelled.
EvalPrediction run_inference(Task& task, Split s, int64_t batch_size, int workers, double* loss_sum = nullptr);
// "<prefix>_loss", "<prefix>_<metric>", runtime and throughput of one pass over a labelled split.
io::Json evaluate_split(Task& task, Split s, const std::string& prefix, int64_t batch_size, int workers,
                        Metrics* metrics = nullptr);

// --freeze (freeze.cpp): which of `names` match one of the regular expressions; a pattern that is
// invalid or matches nothing is an ft::Error.
std::vector<bool> frozen_parameters(const std::vector<std::string>& patterns, const std::vector<std::string>& names);

// output_dir/checkpoint-N directories, sorted by N.
std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& output_dir);
// The names of output_dir/checkpoint-N.tmp folders: checkpoints a stopped run did not finish.
std::vector<std::string> incomplete_checkpoints(const std::string& output_dir);

}  // namespace ft::cli
