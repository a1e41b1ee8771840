#include "tools/ftrain/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
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

// Appends the bytes of n values to a message; reads them back.
template <class T>
void put(std::string& out, const T* v, size_t n) {
  out.append(reinterpret_cast<const char*>(v), n * sizeof(T));
}
template <class T>
void take(const std::string& in, size_t& at, T* v, size_t n) {
  FT_INTERNAL(at + n * sizeof(T) <= in.size());
  std::memcpy(v, in.data() + at, n * sizeof(T));
  at += n * sizeof(T);
}

// Runs the model over a split without gradients: the logits, labels and summed loss, in the split's
// order. Batches are formed in order of length (longest first), so each is padded little; the rows
// are put back where they belong. With several ranks (the Trainer's evaluation) rank r takes every
// world-th example of that order, and the ranks then exchange their rows, so every rank holds all
// predictions and computes the metrics on all of them.
EvalPrediction infer(Task& task, Split s, int64_t batch_size, int workers, double* loss_sum) {
  dist::Group& group = dist::current();
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
  std::vector<int64_t> sorted(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) sorted[i] = i;
  const std::vector<int64_t> len = task.lengths(s);
  if (!len.empty()) std::stable_sort(sorted.begin(), sorted.end(), [&](int64_t a, int64_t b) { return len[a] > len[b]; });
  const int world = group.size();
  auto shard = [&](int r) {
    std::vector<int64_t> mine;
    for (int64_t p = r; p < n; p += world) mine.push_back(sorted[p]);
    return mine;
  };
  const std::vector<int64_t> order = shard(group.rank());
  const int64_t m = static_cast<int64_t>(order.size());
  io::LoaderOptions lo;
  lo.batch_size = batch_size, lo.shuffle = false, lo.workers = workers;
  io::Loader<Batch> loader(m, lo, [&](const std::vector<int64_t>& pos) {
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
  // This rank's rows, in the order of `order`.
  std::vector<float> logits_rows(static_cast<size_t>(m * c)), target_rows(static_cast<size_t>(m * label_width));
  std::vector<int64_t> id_rows(static_cast<size_t>(m));
  Batch b;
  double sum = 0;
  int64_t done = 0, labelled = 1;
  // A causal LM's logits ([batch, tokens, vocab]) are not gathered: its evaluation is the loss.
  const bool per_token = pt == "causal_lm";
  while (loader.next(b)) {
    const Tensor logits = task.logits(b, nullptr);
    if (!per_token) {
      const std::vector<float> l = logits.detach().to(kCPU).to_vector<float>();
      std::copy(l.begin(), l.begin() + b.size * c, logits_rows.begin() + done * c);
    }
    if (b.labels.defined()) {
      sum += task.loss(logits, b, 0.0).item() * static_cast<double>(b.size);
      if (per_token) {
      } else if (single) {
        const std::vector<int64_t> y = b.labels.to_vector<int64_t>();
        std::copy(y.begin(), y.begin() + b.size, id_rows.begin() + done);
      } else {
        const std::vector<float> y = b.labels.to_vector<float>();
        std::copy(y.begin(), y.begin() + b.size * label_width, target_rows.begin() + done * label_width);
      }
    } else {
      labelled = 0;
    }
    done += b.size;
  }
  // Every rank's rows (a world of one: its own), put back in the split's order.
  std::string msg;
  put(msg, &labelled, 1);
  put(msg, &sum, 1);
  put(msg, logits_rows.data(), logits_rows.size());
  put(msg, id_rows.data(), id_rows.size());
  put(msg, target_rows.data(), target_rows.size());
  const std::vector<std::string> all = world > 1 ? group.all_gather(msg) : std::vector<std::string>{msg};
  p.logits.resize(static_cast<size_t>(n * c));
  std::vector<int64_t> ids(static_cast<size_t>(n));
  std::vector<float> targets(static_cast<size_t>(n * label_width));
  bool all_labelled = true;
  double total = 0;
  for (int r = 0; r < world; ++r) {
    const std::vector<int64_t> rows = shard(r);
    const size_t k = rows.size();
    std::vector<float> lg(k * c), tg(k * label_width);
    std::vector<int64_t> id(k);
    int64_t lab = 0;
    double part = 0;
    size_t at = 0;
    take(all[r], at, &lab, 1);
    take(all[r], at, &part, 1);
    take(all[r], at, lg.data(), lg.size());
    take(all[r], at, id.data(), id.size());
    take(all[r], at, tg.data(), tg.size());
    all_labelled = all_labelled && lab;
    total += part;
    for (size_t j = 0; j < k; ++j) {
      std::copy(lg.begin() + j * c, lg.begin() + (j + 1) * c, p.logits.begin() + rows[j] * c);
      ids[rows[j]] = id[j];
      std::copy(tg.begin() + j * label_width, tg.begin() + (j + 1) * label_width,
                targets.begin() + rows[j] * label_width);
    }
  }
  if (all_labelled) (single ? (void)(p.label_ids = std::move(ids)) : (void)(p.targets = std::move(targets)));
  if (loss_sum) *loss_sum = total;
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
  const bool per_token = task.problem_type() == "causal_lm";
  FT_CHECK(per_token || p.label_ids.size() == static_cast<size_t>(p.n) || p.targets.size() >= static_cast<size_t>(p.n),
           "evaluation needs labelled data");
  const double runtime = seconds_since(t0);
  io::Json j = io::Json::object();
  j[prefix + "_loss"] = loss_sum / static_cast<double>(p.n);
  // run_clm's perplexity: exp of the mean evaluation loss.
  Metrics m = per_token ? Metrics{{{"perplexity", std::exp(loss_sum / static_cast<double>(p.n))}}, {}}
                        : compute_metrics(task.problem_type(), p);
  for (auto& [k, v] : m.scalars) j[prefix + "_" + k] = v;
  j[prefix + "_runtime"] = round_to(runtime, 4);
  j[prefix + "_samples_per_second"] = round_to(static_cast<double>(p.n) / runtime, 3);
  j[prefix + "_steps_per_second"] =
      round_to(std::ceil(static_cast<double>(p.n) / static_cast<double>(batch_size)) / runtime, 3);
  if (metrics) *metrics = std::move(m);
  return j;
}

Trainer::Trainer(const TrainArgs& a, Task& task, Reporter& reporter)
    : args_(a), task_(task), reporter_(reporter), group_(&dist::current()), gen_(a.seed) {
  nn::Module& model = task.model();
  const auto named = model.named_parameters();
  std::vector<std::string> names;
  for (auto& [name, p] : named) names.push_back(name);
  const std::vector<bool> frozen = frozen_parameters(a.freeze, names);
  // Parameters the task froze (a LoRA model's base) stay frozen; --freeze freezes more.
  for (size_t i = 0; i < named.size(); ++i) {
    Tensor t = named[i].second;
    const bool train = t.requires_grad() && !frozen[i];
    t.requires_grad_(train);
    if (train) trainable_.push_back(t), trainable_names_.push_back(names[i]);
  }
  FT_CHECK(!trainable_.empty(), "--freeze leaves no parameter to train");
  // --zero 1 (ZeRO stage 1): each trainable tensor belongs to one rank, which alone keeps its AdamW
  // state and updates it, then broadcasts the new values. Tensors are dealt largest first to the
  // rank holding the fewest elements so far, so the shards are balanced and every rank computes the
  // same assignment.
  owner_.assign(trainable_.size(), -1);
  if (a.zero_stage == 1 && group_->distributed()) {
    std::vector<size_t> by_size(trainable_.size());
    for (size_t i = 0; i < by_size.size(); ++i) by_size[i] = i;
    std::stable_sort(by_size.begin(), by_size.end(),
                     [&](size_t x, size_t y) { return trainable_[x].numel() > trainable_[y].numel(); });
    std::vector<int64_t> load(static_cast<size_t>(group_->size()), 0);
    for (size_t i : by_size) {
      const int r = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
      owner_[i] = r;
      load[r] += trainable_[i].numel();
    }
  }
  auto mine = [&](const Tensor& p) {
    for (size_t i = 0; i < trainable_.size(); ++i)
      if (trainable_[i].same(p)) return owner_[i] < 0 || owner_[i] == group_->rank();
    return false;
  };
  // The Trainer's weight-decay groups, without the frozen parameters (and under --zero 1, without
  // the other ranks' tensors).
  std::vector<optim::ParamGroup> groups;
  for (optim::ParamGroup& g : optim::hf_parameter_groups(model, a.learning_rate, a.weight_decay)) {
    optim::ParamGroup kept{{}, g.lr, g.weight_decay, {}};
    for (size_t i = 0; i < g.params.size(); ++i)
      if (g.params[i].requires_grad() && mine(g.params[i]))
        kept.params.push_back(g.params[i]), kept.names.push_back(g.names[i]);
    groups.push_back(std::move(kept));
  }
  optimizer_ = std::make_unique<optim::AdamW>(std::move(groups), optim::AdamWOptions{a.adam_beta1, a.adam_beta2,
                                                                                      a.adam_epsilon, false});
  io::LoaderOptions lo;
  lo.batch_size = a.per_device_train_batch_size, lo.shuffle = true, lo.seed = a.seed, lo.workers = a.dataloader_num_workers;
  lo.rank = group_->rank(), lo.world = group_->size();
  if (a.group_by_length) lo.lengths = task.lengths(Split::train);
  if (group_->distributed()) reducer_ = std::make_unique<dist::GradientReducer>(trainable_, *group_);
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
  // With several ranks each micro-batch is this rank's share of a global batch (possibly empty at an
  // epoch's end); n counts the examples of the step over all ranks.
  std::vector<Batch> micro;
  int64_t n = 0;
  while (static_cast<int64_t>(micro.size()) < args_.gradient_accumulation_steps) {
    Batch b;
    const int64_t at = loader_->step();
    if (!loader_->next(b)) break;
    n += loader_->global_examples(at);
    micro.push_back(std::move(b));
    if (loader_->step() >= loader_->batches_per_epoch()) break;
  }
  r.epoch_end = loader_->step() >= loader_->batches_per_epoch();
  examples_seen_ += n;
  const Device dev = trainable_.front().device();  // the model's
  const int64_t step = global_step_ + 1;
  // Nothing below waits for the device until the step's report is read, after the optimizer: the
  // losses and the gradient norm stay where the model is, and whether to apply the update (every
  // loss and the norm finite, no bad index recorded) is decided there too (AdamW's ok flag).
  std::vector<Tensor> losses;
  const TensorOptions f64_dev = TensorOptions(DType::f64).with_device(dev);
  for (size_t i = 0; i < micro.size(); ++i) {
    // The last backward of the step all-reduces the gradients as they become ready.
    if (reducer_ && i + 1 == micro.size()) reducer_->arm();
    if (micro[i].size == 0) {  // this rank's share of a short last global batch is empty
      losses.push_back(zeros({1}, f64_dev));
      continue;
    }
    // Under --bf16/--fp16 the forward (and the loss, in f32 by the policy) runs under autocast; each
    // weight's low-precision copy is made once per step (the cache is cleared after the update).
    Tensor loss;
    {
      std::optional<autocast::Guard> amp;
      if (task_.autocast_dtype != DType::f32) amp.emplace(task_.autocast_dtype, &amp_cache_);
      const Tensor logits = task_.logits(micro[i], &gen_);
      loss = task_.loss(logits, micro[i], args_.label_smoothing_factor);
    }
    // Each micro-batch's mean loss weighted by its share of the step's examples (over all ranks):
    // the gradient of the mean over all of them, once the ranks' gradients are summed.
    const double w = static_cast<double>(micro[i].size) / static_cast<double>(n);
    const Tensor weighted = w == 1.0 ? loss : mul(loss, w);
    losses.push_back(weighted.detach().to(DType::f64).reshape({1}));
    (scaler_ ? scaler_->scale(weighted) : weighted).backward();
  }
  if (reducer_) reducer_->finish();  // every rank now holds the gradient of the global batch
  const size_t k = micro.size();
  const int world = group_->size();
  Tensor error_flag = empty({1}, f64_dev);
  backend_for(dev).deferred_error_flag(error_flag.data<double>());
  Tensor report, ok;
  {
    NoGradGuard ng;
    // [weighted loss of each micro-batch..., error flag, then per rank: its losses' sum (finite
    // exactly when its losses are; this rank fills its own slot)], summed over the ranks, so every
    // rank takes the same decisions from the same numbers.
    std::vector<Tensor> parts = losses;
    parts.push_back(error_flag);
    if (world > 1) {
      Tensor mine = zeros({world}, f64_dev);
      mine.narrow(0, group_->rank(), 1).copy_(sum(concat(losses, 0)).reshape({1}));
      parts.push_back(mine);
    }
    report = concat(parts, 0);
    if (world > 1) group_->communicator(dev).all_reduce(report, dist::ReduceOp::sum);
  }
  // --fp16: the gradients are unscaled before clipping; an inf/NaN gradient makes the norm inf/NaN.
  if (scaler_) scaler_->unscale_(trainable_);
  const Tensor norm = optim::clip_grad_norm_(
      trainable_, args_.max_grad_norm > 0 ? args_.max_grad_norm : std::numeric_limits<double>::infinity());
  {
    NoGradGuard ng;
    report = concat({report, norm.to(dev).reshape({1})}, 0);  // (norm on the CPU when no parameter has a gradient)
    const Tensor all = sum(report);  // finite exactly when every loss and the norm are (the flag is 0 or 1)
    ok = eq(add(mul(all, 0.0), report.narrow(0, static_cast<int64_t>(k), 1).reshape({})), zeros({}, f64_dev));
  }
  optimizer_->step(ok);
  if (sharded()) {  // --zero 1: every tensor from the rank that updated it
    NoGradGuard ng;
    dist::Communicator& comm = group_->communicator(dev);
    comm.group_start();
    for (size_t i = 0; i < trainable_.size(); ++i) comm.broadcast(trainable_[i].detach(), owner_[i]);
    comm.group_end();
  }
  // The step's one wait: the report.
  const std::vector<double> rep = report.to_vector<double>();
  if (rep[k] != 0) {  // a bad index or target
    backend_for(dev).raise_deferred_errors();  // this rank's: throws naming it
    // Another rank's: that rank is ending the job with its message.
    group_->barrier();
    throw Error(cat("step ", step, ": another rank reported a bad index or target"));
  }
  r.grad_norm = rep.back();
  for (size_t i = 0; i < k; ++i) {
    if (std::isfinite(rep[i])) {
      r.loss += rep[i];
      continue;
    }
    std::string where;
    for (int q = 0; q < world && world > 1; ++q)
      if (!std::isfinite(rep[k + 1 + static_cast<size_t>(q)])) where += (where.empty() ? ", on rank " : ", ") + std::to_string(q);
    const std::string what = cat("the loss is ", rep[i], " at step ", step, " (epoch ", epoch_ + 1, ", micro-batch ",
                                 i + 1, " of ", k, where, ")");
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
  for (const Tensor& t : trainable_) t.zero_grad();  // all of them (under --zero 1 AdamW holds only this rank's)
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
    dist::on_every_process(*group_, [&] { load_checkpoint(dir); });
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
                        " steps (batch ", args_.per_device_train_batch_size,
                        group_->distributed() ? cat(" x ", group_->size(), " ranks") : std::string(), " x ",
                        args_.gradient_accumulation_steps, " accumulation), ", trainable_.size(), " trainable tensors, learning rate ",
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
      // A signal stops every rank at the same step (mpirun forwards it to all; they may see it at
      // different steps, so they agree on the largest signal number seen).
      int signal = g_interrupt;
      if (group_->distributed()) {
        double v = signal;
        group_->all_reduce(&v, 1, dist::ReduceOp::max);
        signal = static_cast<int>(v);
      }
      if (signal) {
        if (!saved) save_checkpoint();
        interrupt_signal_ = signal;
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
  dist::on_main_process(*group_, [&] {
    publish_model(args_.output_dir, [&](const std::string& staging) {
      task_.save(staging, save_dtype(args_.save_dtype));
      io::write_json(staging + "/trainer_state.json", io::Json(nlohmann::json(state_)));
      io::write_json(staging + "/training_args.json", args_.to_json());
    });
  });
  return metrics;
}

}  // namespace ft::cli
