#include "tools/ftrain/trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <limits>
#include <optional>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/backend.h"
#include "core/error.h"
#include "core/ops.h"
#include "tools/ftrain/output_dir.h"

namespace ft::cli {
namespace {

// The signal that asked the run to stop (SIGINT, SIGTERM, SIGHUP), 0 while none has.
volatile std::sig_atomic_t g_interrupt = 0;
extern "C" void on_interrupt(int sig) { g_interrupt = sig; }

const char* signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP"; }

// SIGINT (Ctrl-C), SIGTERM (kill, a scheduler's preemption) and SIGHUP (a closed terminal or ssh
// session) all end the run the same way: a checkpoint, then exit status 128 + the signal's number.
class StopSignals {
 public:
  StopSignals() {
    g_interrupt = 0;
    for (size_t i = 0; i < 3; ++i) old_[i] = std::signal(kSignals[i], on_interrupt);
  }
  ~StopSignals() {
    for (size_t i = 0; i < 3; ++i) std::signal(kSignals[i], old_[i]);
  }

 private:
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
  using Handler = void (*)(int);
  Handler old_[3];
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double round_to(double v, int digits) {
  const double s = std::pow(10.0, digits);
  return std::round(v * s) / s;
}

// Runs the model over a split without gradients: the logits, labels and summed loss, in the split's
// order. Batches are formed in order of length (longest first), so each is padded little; the rows
// are put back where they belong.
EvalPrediction infer(Task& task, Split s, int64_t batch_size, int workers, double* loss_sum) {
  const int64_t n = task.size(s);
  FT_CHECK(n > 0, "no examples to evaluate");
  nn::Module& model = task.model();
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard ng;
  // Under --bf16 the evaluation runs under autocast too (as the Trainer's does); the guard's own cache
  // casts each weight once per pass.
  std::optional<autocast::Guard> amp;
  if (task.autocast_dtype != DType::f32) amp.emplace(task.autocast_dtype);
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  const std::vector<int64_t> len = task.lengths(s);
  if (!len.empty()) std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return len[a] > len[b]; });
  io::LoaderOptions lo;
  lo.batch_size = batch_size, lo.shuffle = false, lo.workers = workers;
  io::Loader<Batch> loader(n, lo, [&](const std::vector<int64_t>& pos) {
    std::vector<int64_t> idx;
    for (int64_t p : pos) idx.push_back(order[p]);
    return task.collate(s, idx);
  });
  loader.seek(0, 0);
  EvalPrediction p;
  p.n = n;
  p.num_labels = task.num_labels();
  const int64_t c = p.num_labels;
  const std::string pt = task.problem_type();
  const bool single = pt == "single_label_classification";
  const int64_t label_width = pt == "multi_label_classification" ? c : 1;
  p.logits.resize(static_cast<size_t>(n * c));
  Batch b;
  double sum = 0;
  int64_t done = 0;
  bool labelled = true;
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::vector<float> targets(static_cast<size_t>(n * label_width));
  while (loader.next(b)) {
    const Tensor logits = task.logits(b, nullptr);
    const std::vector<float> l = logits.detach().to(kCPU).to_vector<float>();
    for (int64_t r = 0; r < b.size; ++r)
      std::copy(l.begin() + r * c, l.begin() + (r + 1) * c, p.logits.begin() + order[done + r] * c);
    if (b.labels.defined()) {
      sum += task.loss(logits, b, 0.0).item() * static_cast<double>(b.size);
      if (single) {
        const std::vector<int64_t> y = b.labels.to_vector<int64_t>();
        for (int64_t r = 0; r < b.size; ++r) ids[order[done + r]] = y[r];
      } else {
        const std::vector<float> y = b.labels.to_vector<float>();
        for (int64_t r = 0; r < b.size; ++r)
          std::copy(y.begin() + r * label_width, y.begin() + (r + 1) * label_width,
                    targets.begin() + order[done + r] * label_width);
      }
    } else {
      labelled = false;
    }
    done += b.size;
  }
  if (labelled) (single ? (void)(p.label_ids = std::move(ids)) : (void)(p.targets = std::move(targets)));
  if (loss_sum) *loss_sum = sum;
  model.train(was_training);
  return p;
}

}  // namespace

EvalPrediction run_inference(Task& task, Split s, int64_t batch_size, int workers, double* loss_sum) {
  return infer(task, s, batch_size, workers, loss_sum);
}

io::Json evaluate_split(Task& task, Split s, const std::string& prefix, int64_t batch_size, int workers,
                        Metrics* metrics) {
  const auto t0 = std::chrono::steady_clock::now();
  double loss_sum = 0;
  const EvalPrediction p = infer(task, s, batch_size, workers, &loss_sum);
  FT_CHECK(p.label_ids.size() == static_cast<size_t>(p.n) || p.targets.size() >= static_cast<size_t>(p.n),
           "evaluation needs labelled data");
  const double runtime = seconds_since(t0);
  io::Json j = io::Json::object();
  j[prefix + "_loss"] = loss_sum / static_cast<double>(p.n);
  Metrics m = compute_metrics(task.problem_type(), p);
  for (auto& [k, v] : m.scalars) j[prefix + "_" + k] = v;
  j[prefix + "_runtime"] = round_to(runtime, 4);
  j[prefix + "_samples_per_second"] = round_to(static_cast<double>(p.n) / runtime, 3);
  j[prefix + "_steps_per_second"] =
      round_to(std::ceil(static_cast<double>(p.n) / static_cast<double>(batch_size)) / runtime, 3);
  if (metrics) *metrics = std::move(m);
  return j;
}

Trainer::Trainer(const TrainArgs& a, Task& task, Reporter& reporter)
    : args_(a), task_(task), reporter_(reporter), gen_(a.seed) {
  nn::Module& model = task.model();
  const auto named = model.named_parameters();
  std::vector<std::string> names;
  for (auto& [name, p] : named) names.push_back(name);
  const std::vector<bool> frozen = frozen_parameters(a.freeze, names);
  for (size_t i = 0; i < named.size(); ++i) {
    Tensor t = named[i].second;
    t.requires_grad_(!frozen[i]);
    if (!frozen[i]) trainable_.push_back(t), trainable_names_.push_back(names[i]);
  }
  FT_CHECK(!trainable_.empty(), "--freeze leaves no parameter to train");
  // The Trainer's weight-decay groups, without the frozen parameters.
  std::vector<optim::ParamGroup> groups;
  for (optim::ParamGroup& g : optim::hf_parameter_groups(model, a.learning_rate, a.weight_decay)) {
    optim::ParamGroup kept{{}, g.lr, g.weight_decay, {}};
    for (size_t i = 0; i < g.params.size(); ++i)
      if (g.params[i].requires_grad()) kept.params.push_back(g.params[i]), kept.names.push_back(g.names[i]);
    groups.push_back(std::move(kept));
  }
  optimizer_ = std::make_unique<optim::AdamW>(std::move(groups), optim::AdamWOptions{a.adam_beta1, a.adam_beta2,
                                                                                      a.adam_epsilon, false});
  io::LoaderOptions lo;
  lo.batch_size = a.per_device_train_batch_size, lo.shuffle = true, lo.seed = a.seed, lo.workers = a.dataloader_num_workers;
  if (a.group_by_length) lo.lengths = task.lengths(Split::train);
  FT_CHECK(task.size(Split::train) > 0, "the training data is empty");
  loader_ = std::make_unique<io::Loader<Batch>>(
      task.size(Split::train), lo, [this](const std::vector<int64_t>& idx) { return task_.collate(Split::train, idx); });
  const int64_t batches = loader_->batches_per_epoch();
  steps_per_epoch_ = (batches + a.gradient_accumulation_steps - 1) / a.gradient_accumulation_steps;
  total_steps_ = a.max_steps > 0 ? a.max_steps
                                 : static_cast<int64_t>(std::ceil(a.num_train_epochs * static_cast<double>(steps_per_epoch_)));
  total_steps_ = std::max<int64_t>(total_steps_, 1);
  const int64_t warmup = optim::warmup_steps_for(total_steps_, a.warmup_ratio, a.warmup_steps);
  if (a.fp16) scaler_.emplace();  // GradScaler's defaults: 2^16, x2 after 2000 clean steps, x0.5
  scheduler_ = std::make_unique<optim::LrScheduler>(*optimizer_,
                                                    optim::schedule_by_name(a.lr_scheduler_type, warmup, total_steps_));
  state_ = io::Json::object();
  state_["log_history"] = io::Json::array();
  state_["best_metric"] = nullptr;
  state_["best_global_step"] = nullptr;
  state_["best_model_checkpoint"] = nullptr;
}

Trainer::~Trainer() = default;

std::string Trainer::checkpoint_dir(int64_t step) const {
  return args_.output_dir + "/checkpoint-" + std::to_string(step);
}

Trainer::StepResult Trainer::train_step() {
  StepResult r;
  if (loader_->step() >= loader_->batches_per_epoch()) {
    task_.set_epoch(++epoch_);
    loader_->seek(epoch_, 0);
  }
  // The micro-batches of this optimizer step; an epoch's last step may have fewer.
  std::vector<Batch> micro;
  while (static_cast<int64_t>(micro.size()) < args_.gradient_accumulation_steps) {
    Batch b;
    if (!loader_->next(b)) break;
    micro.push_back(std::move(b));
    if (loader_->step() >= loader_->batches_per_epoch()) break;
  }
  r.epoch_end = loader_->step() >= loader_->batches_per_epoch();
  int64_t n = 0;
  for (const Batch& b : micro) n += b.size;
  examples_seen_ += n;
  const int64_t step = global_step_ + 1;
  // Nothing below waits for the device until the step's report is read, after the optimizer: the
  // losses and the gradient norm stay where the model is, and whether to apply the update (every
  // loss and the norm finite, no bad index recorded) is decided there too (AdamW's ok flag).
  std::vector<Tensor> losses;
  for (size_t i = 0; i < micro.size(); ++i) {
    // Under --bf16/--fp16 the forward (and the loss, in f32 by the policy) runs under autocast; each
    // weight's low-precision copy is made once per step (the cache is cleared after the update).
    Tensor loss;
    {
      std::optional<autocast::Guard> amp;
      if (task_.autocast_dtype != DType::f32) amp.emplace(task_.autocast_dtype, &amp_cache_);
      const Tensor logits = task_.logits(micro[i], &gen_);
      loss = task_.loss(logits, micro[i], args_.label_smoothing_factor);
    }
    losses.push_back(loss.detach().to(DType::f64).reshape({1}));
    // Each micro-batch's mean loss weighted by its share of the step's examples: the gradient of
    // the mean over all of them.
    const double w = static_cast<double>(micro[i].size) / static_cast<double>(n);
    const Tensor weighted = w == 1.0 ? loss : mul(loss, w);
    (scaler_ ? scaler_->scale(weighted) : weighted).backward();
  }
  // --fp16: the gradients are unscaled before clipping; an inf/NaN gradient makes the norm inf/NaN.
  if (scaler_) scaler_->unscale_(trainable_);
  const Tensor norm = optim::clip_grad_norm_(
      trainable_, args_.max_grad_norm > 0 ? args_.max_grad_norm : std::numeric_limits<double>::infinity());
  const Device dev = losses.empty() ? norm.device() : losses[0].device();  // the model's device
  Tensor error_flag = empty({1}, TensorOptions(DType::f64).with_device(dev));
  backend_for(dev).deferred_error_flag(error_flag.data<double>());
  Tensor report, ok;
  {
    NoGradGuard ng;
    losses.push_back(norm.to(dev).reshape({1}));  // (on the CPU when no parameter has a gradient)
    losses.push_back(error_flag);
    report = concat(losses, 0);  // [loss of each micro-batch..., gradient norm, error flag]
    const Tensor all = sum(report);  // finite exactly when every loss and the norm are (the flag is 0 or 1)
    ok = eq(add(mul(all, 0.0), error_flag.reshape({})), zeros({}, TensorOptions(DType::f64).with_device(dev)));
  }
  optimizer_->step(ok);
  // The step's one wait: the report.
  const std::vector<double> rep = report.to_vector<double>();
  const size_t k = micro.size();
  if (rep[k + 1] != 0) backend_for(dev).raise_deferred_errors();  // a bad index or target: throws
  r.grad_norm = rep[k];
  for (size_t i = 0; i < k; ++i) {
    if (std::isfinite(rep[i])) {
      r.loss += rep[i] * static_cast<double>(micro[i].size) / static_cast<double>(n);
      continue;
    }
    const std::string what = cat("the loss is ", rep[i], " at step ", step, " (epoch ", epoch_ + 1, ", micro-batch ",
                                 i + 1, " of ", k, ")");
    FT_CHECK(args_.skip_nonfinite_loss, what,
             "; stopping (earlier checkpoints are intact; --skip_nonfinite_loss skips such steps)");
    reporter_.warning(what + "; step skipped (--skip_nonfinite_loss)");
    r.skipped = true;
    break;
  }
  // --fp16: a step with an inf/NaN gradient is skipped (weights, moments, step count and the
  // learning-rate schedule untouched, as with GradScaler and the Trainer) and the scale backs off.
  bool overflow = false;
  if (scaler_ && !r.skipped) {
    const float scale = scaler_->get_scale();
    overflow = !std::isfinite(r.grad_norm);
    scaler_->update(overflow);
    if (overflow) {
      reporter_.warning(cat("step ", step, ": inf/NaN gradients at loss scale ", scale, "; step skipped, loss scale now ",
                            scaler_->get_scale()));
      r.skipped = true;
    }
  }
  if (!r.skipped && !std::isfinite(r.grad_norm)) {
    const std::string what = cat("the gradient norm is ", r.grad_norm, " at step ", step);
    FT_CHECK(args_.skip_nonfinite_loss, what, "; stopping (earlier checkpoints are intact)");
    reporter_.warning(what + "; step skipped (--skip_nonfinite_loss)");
    r.skipped = true;
  }
  if (r.skipped) optimizer_->undo_step_counts();  // the device skipped the update (ok was false)
  optimizer_->zero_grad();
  amp_cache_.clear();  // the weights changed
  // The rate this step applied, which the Trainer logs (not the next step's).
  r.lr = scheduler_->last_lr().empty() ? 0 : scheduler_->last_lr()[0];
  if (!overflow) scheduler_->step();
  return r;
}

void Trainer::log(io::Json entry) {
  entry["epoch"] = round_to(static_cast<double>(epoch_) +
                                static_cast<double>((loader_->step() + args_.gradient_accumulation_steps - 1) /
                                                    args_.gradient_accumulation_steps) /
                                    static_cast<double>(steps_per_epoch_),
                            4);
  entry["step"] = global_step_;
  state_["log_history"].push_back(entry);
  reporter_.log(entry);
}

io::Json Trainer::evaluate(Split s, const std::string& prefix, Metrics* metrics) {
  return evaluate_split(task_, s, prefix, args_.per_device_eval_batch_size, args_.dataloader_num_workers, metrics);
}

bool Trainer::maybe_evaluate_and_save(bool epoch_end, bool last) {
  const int64_t eval_every = args_.eval_steps > 0 ? args_.eval_steps : args_.logging_steps;
  const bool do_eval = (args_.eval_strategy == "steps" && global_step_ % eval_every == 0) ||
                       (args_.eval_strategy == "epoch" && epoch_end);
  const bool do_save = (args_.save_strategy == "steps" && global_step_ % args_.save_steps == 0) ||
                       (args_.save_strategy == "epoch" && epoch_end) || (args_.save_strategy != "no" && (last || stop_));
  if (do_eval) {
    Metrics m;
    io::Json metrics = evaluate(Split::eval, "eval", &m);
    last_eval_ = metrics, last_metrics_ = m, last_eval_step_ = global_step_;
    log(metrics);
    reporter_.eval_table(cat("evaluation at step ", global_step_), metrics, &m, task_.label_names());
    const std::string key = eval_key(args_.metric_for_best_model);
    if (!metrics.contains(key)) {
      std::string have;
      for (auto& [k, v] : metrics.items()) have += (have.empty() ? "" : ", ") + k;
      throw Error(cat("--metric_for_best_model '", args_.metric_for_best_model, "': the evaluation has no '", key,
                      "' (it has ", have, ")"));
    }
    const double v = metrics[key].get<double>();
    const bool gib = greater_is_better(args_);
    const bool better = state_["best_metric"].is_null() ||
                        (gib ? v > state_["best_metric"].get<double>() : v < state_["best_metric"].get<double>());
    if (better) {
      state_["best_metric"] = v;
      state_["best_global_step"] = global_step_;
      evals_without_improvement_ = 0;
    } else {
      ++evals_without_improvement_;
    }
    if (args_.early_stopping_patience > 0 && evals_without_improvement_ >= args_.early_stopping_patience) {
      reporter_.message(cat("early stopping: ", key, " has not improved for ", evals_without_improvement_,
                            " evaluations (best ", state_["best_metric"].get<double>(), " at step ",
                            state_["best_global_step"].get<int64_t>(), ")"));
      stop_ = true;
    }
  }
  if (do_save || (stop_ && args_.save_strategy != "no")) save_checkpoint();
  return do_save;
}

io::Json Trainer::train() {
  if (!args_.resume_from_checkpoint.empty()) {
    std::string dir = args_.resume_from_checkpoint;
    if (dir == "latest") {
      const auto cps = list_checkpoints(args_.output_dir);
      if (cps.empty()) {
        const std::vector<std::string> partial = incomplete_checkpoints(args_.output_dir);
        FT_CHECK(partial.empty(), "--resume_from_checkpoint latest: ", args_.output_dir,
                 " holds no complete checkpoint, only ", partial.front(), partial.size() > 1 ? " and others" : "",
                 " (left by a run stopped while saving); start over with --overwrite_output_dir");
        throw Error(cat("--resume_from_checkpoint latest: no checkpoint-N directory in ", args_.output_dir,
                        "; start over with --overwrite_output_dir"));
      }
      dir = cps.back().second;
    }
    load_checkpoint(dir);
    // metrics.jsonl as the checkpoint's log history: entries a stopped run logged after its last
    // checkpoint are gone, so the file reads as one run.
    reporter_.rewrite_log(state_["log_history"]);
    reporter_.message(cat("resumed from ", dir, " at step ", global_step_, " (epoch ", epoch_ + 1, ", batch ",
                          loader_->step(), ")"));
  } else {
    task_.set_epoch(0);
    loader_->seek(0, 0);
  }
  const int64_t n = task_.size(Split::train);
  reporter_.message(cat("training: ", n, " examples, ", steps_per_epoch_, " steps per epoch, ", total_steps_,
                        " steps (batch ", args_.per_device_train_batch_size, " x ", args_.gradient_accumulation_steps,
                        " accumulation), ", trainable_.size(), " trainable tensors, learning rate ",
                        args_.learning_rate, " (", args_.lr_scheduler_type, ")"));
  task_.model().train();
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t start_step = global_step_;
  int64_t start_examples = examples_seen_;
  {
    const StopSignals signals;
    while (global_step_ < total_steps_ && !stop_) {
      const StepResult r = train_step();
      ++global_step_;
      if (!r.skipped) {
        window_loss_ += r.loss, ++window_steps_;
        total_loss_ += r.loss, ++total_loss_steps_;
      }
      const double elapsed = seconds_since(t0);
      const double sps = static_cast<double>(examples_seen_ - start_examples) / elapsed;
      const double steps_ps = static_cast<double>(global_step_ - start_step) / elapsed;
      const double lr = r.lr;
      reporter_.progress(global_step_, total_steps_, static_cast<double>(epoch_) + static_cast<double>(loader_->step()) /
                                                         static_cast<double>(loader_->batches_per_epoch()),
                         r.loss, lr, sps, static_cast<double>(total_steps_ - global_step_) / steps_ps);
      if (global_step_ % args_.logging_steps == 0 || (args_.logging_first_step && global_step_ == 1)) {
        io::Json e = io::Json::object();
        e["loss"] = window_steps_ ? io::Json(round_to(window_loss_ / static_cast<double>(window_steps_), 4)) : io::Json(nullptr);
        e["grad_norm"] = r.grad_norm;
        e["learning_rate"] = lr;
        window_loss_ = 0, window_steps_ = 0;
        log(e);
      }
      const bool saved = maybe_evaluate_and_save(r.epoch_end, global_step_ == total_steps_);
      if (g_interrupt) {
        if (!saved) save_checkpoint();
        interrupt_signal_ = g_interrupt;
        break;
      }
    }
  }
  reporter_.end_progress();
  const double runtime = seconds_since(t0);
  io::Json metrics = io::Json::object();
  metrics["train_runtime"] = round_to(runtime, 4);
  metrics["train_samples_per_second"] = round_to(static_cast<double>(examples_seen_ - start_examples) / runtime, 3);
  metrics["train_steps_per_second"] = round_to(static_cast<double>(global_step_ - start_step) / runtime, 3);
  metrics["train_loss"] = total_loss_steps_ ? total_loss_ / static_cast<double>(total_loss_steps_) : 0.0;
  if (interrupted()) {
    reporter_.warning(cat("interrupted by ", signal_name(interrupt_signal_), ": checkpoint saved at step ", global_step_,
                          " in ", checkpoint_dir(global_step_), "; continue with --resume_from_checkpoint latest"));
    return metrics;
  }
  if (args_.load_best_model_at_end && state_["best_model_checkpoint"].is_string()) {
    const std::string best = state_["best_model_checkpoint"].get<std::string>();
    task_.load_weights_from(best);
    weights_replaced_ = true;
    reporter_.message(cat("loaded the best model from ", best, " (", eval_key(args_.metric_for_best_model), " ",
                          state_["best_metric"].get<double>(), ")"));
  }
  log(metrics);
  state_["global_step"] = global_step_;
  publish_model(args_.output_dir, [&](const std::string& staging) {
    task_.save(staging, save_dtype(args_.save_dtype));
    io::write_json(staging + "/trainer_state.json", io::Json(nlohmann::json(state_)));
    io::write_json(staging + "/training_args.json", args_.to_json());
  });
  return metrics;
}

}  // namespace ft::cli
