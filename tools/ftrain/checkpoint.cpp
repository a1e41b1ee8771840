// Training checkpoints: output_dir/checkpoint-N/ with the model as a Hugging Face directory,
// optimizer.safetensors (AdamW's exp_avg and exp_avg_sq per parameter name, the step counts in the
// metadata), scheduler.json, scaler.json (--fp16: loss scale and growth tracker), rng_state.json
// (dropout generator and data loader position), trainer_state.json in the Trainer's shape and
// training_args.json. Each file is written to a temporary name and renamed, and the directory is
// assembled as checkpoint-N.tmp and renamed when complete, so a process killed while saving leaves
// every earlier checkpoint whole and no checkpoint-N that is not.
#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "tools/ftrain/trainer.h"

namespace ft::cli {

namespace fs = std::filesystem;

std::vector<std::pair<int64_t, std::string>> list_checkpoints(const std::string& output_dir) {
  std::vector<std::pair<int64_t, std::string>> out;
  std::error_code ec;
  if (!fs::is_directory(output_dir, ec)) return out;
  // Names ^checkpoint-[0-9]+$ only, as the Trainer's get_last_checkpoint: not checkpoint-N.tmp.
  const std::string prefix = "checkpoint-";
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    const std::string base = e.path().filename().string();
    const std::string digits = base.substr(std::min(base.size(), prefix.size()));
    if (!e.is_directory() || base.rfind(prefix, 0) != 0 || digits.empty() || digits.size() > 18 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      continue;
    out.emplace_back(std::stoll(digits), e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> incomplete_checkpoints(const std::string& output_dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(output_dir, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory() && n.rfind("checkpoint-", 0) == 0 && n.ends_with(".tmp")) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string Trainer::rng_state_file() const {
  return group_->distributed() ? cat("rng_state_", group_->rank(), ".json") : "rng_state.json";
}

// With several ranks every rank's generator and loader position are saved (rng_state_<rank>.json,
// as the Trainer writes rng_state_<rank>.pth); rank 0 alone writes the checkpoint, the others wait,
// and a failure to save is every rank's error.
void Trainer::save_checkpoint() {
  io::Json rng{{"dropout_generator", {{"seed", gen_.seed()}, {"offset", gen_.offset()}}},
               {"loader", {{"epoch", epoch_}, {"batch", loader_->step()}, {"seed", args_.seed}}}};
  if (group_->distributed()) rng["world_size"] = group_->size();
  const std::vector<std::string> rngs = group_->all_gather(rng.dump());
  const std::map<std::string, optim::AdamW::State> opt = optimizer_state();
  if (state_["best_global_step"].is_number() && state_["best_global_step"].get<int64_t>() == global_step_)
    state_["best_model_checkpoint"] = checkpoint_dir(global_step_);
  dist::on_main_process(*group_, [&] { save_checkpoint_files(rngs, opt); });
}

void Trainer::save_checkpoint_files(const std::vector<std::string>& rng_states,
                                    const std::map<std::string, optim::AdamW::State>& opt_state) {
  const std::string dir = checkpoint_dir(global_step_), tmp = dir + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  FT_CHECK(!ec, tmp, ": cannot create the checkpoint directory: ", ec.message());
  try {
    write_checkpoint(tmp, opt_state);
    for (size_t r = 0; r < rng_states.size(); ++r)
      io::write_json(tmp + "/" + (rng_states.size() > 1 ? cat("rng_state_", r, ".json") : std::string("rng_state.json")),
                     io::Json::parse(rng_states[r]));
  } catch (const Error& e) {
    fs::remove_all(tmp, ec);  // give back the space; earlier checkpoints are untouched
    throw Error(cat("saving ", dir, " failed: ", e.what(), " (earlier checkpoints are intact)"));
  }
  fs::remove_all(dir, ec);
  fs::rename(tmp, dir, ec);
  FT_CHECK(!ec, dir, ": cannot move the finished checkpoint into place: ", ec.message());
  io::sync_directory(args_.output_dir);
  reporter_.message(cat("saved checkpoint ", dir));
  rotate_checkpoints();
}

std::map<std::string, optim::AdamW::State> Trainer::optimizer_state() {
  std::map<std::string, optim::AdamW::State> out;
  for (size_t i = 0; i < trainable_.size(); ++i) {
    const Tensor& p = trainable_[i];
    const optim::AdamW::State* s = optimizer_->state_of(p);
    if (!sharded()) {
      if (s) out[trainable_names_[i]] = optim::AdamW::State{s->exp_avg.to(kCPU), s->exp_avg_sq.to(kCPU), {}, s->step};
      continue;
    }
    // --zero 1: the owner sends whether it has a state yet, its step count and the moments.
    double meta[2] = {s ? 1.0 : 0.0, s ? static_cast<double>(s->step) : 0.0};
    group_->broadcast(meta, sizeof meta, owner_[i]);
    if (meta[0] == 0) continue;
    const TensorOptions o = TensorOptions(p.dtype()).with_device(p.device());
    Tensor m = s ? s->exp_avg : zeros(p.shape(), o), v = s ? s->exp_avg_sq : zeros(p.shape(), o);
    dist::Communicator& comm = group_->communicator(p.device());
    comm.broadcast(m, owner_[i]);
    comm.broadcast(v, owner_[i]);
    out[trainable_names_[i]] = optim::AdamW::State{m.to(kCPU), v.to(kCPU), {}, static_cast<int64_t>(meta[1])};
  }
  return out;
}

void Trainer::write_checkpoint(const std::string& tmp, const std::map<std::string, optim::AdamW::State>& opt_state) {
  task_.save(tmp);
  std::map<std::string, Tensor> opt;
  std::map<std::string, std::string> meta{{"format", "ftrain-adamw"}};
  for (const auto& [name, s] : opt_state) {
    opt[name + ".exp_avg"] = s.exp_avg;
    opt[name + ".exp_avg_sq"] = s.exp_avg_sq;
    meta[name + ".step"] = std::to_string(s.step);
  }
  io::write_safetensors(tmp + "/optimizer.safetensors", opt, meta);
  io::write_json(tmp + "/scheduler.json", io::Json{{"last_epoch", scheduler_->last_step()},
                                                  {"lr_scheduler_type", args_.lr_scheduler_type},
                                                  {"_last_lr", scheduler_->last_lr()}});
  if (scaler_)
    io::write_json(tmp + "/scaler.json",
                   io::Json{{"scale", scaler_->get_scale()}, {"_growth_tracker", scaler_->growth_tracker()}});
  io::Json st = state_;
  st["epoch"] = static_cast<double>(epoch_) + static_cast<double>(loader_->step()) /
                                                  static_cast<double>(loader_->batches_per_epoch());
  st["global_step"] = global_step_;
  st["max_steps"] = total_steps_;
  st["logging_steps"] = args_.logging_steps;
  st["eval_steps"] = args_.eval_steps > 0 ? args_.eval_steps : args_.logging_steps;
  st["save_steps"] = args_.save_steps;
  st["train_batch_size"] = args_.per_device_train_batch_size;
  st["num_train_epochs"] = static_cast<int64_t>(std::ceil(static_cast<double>(total_steps_) /
                                                          static_cast<double>(steps_per_epoch_)));
  st["num_input_tokens_seen"] = 0;
  st["total_flos"] = 0;
  st["is_local_process_zero"] = true;
  st["is_world_process_zero"] = true;
  st["is_hyper_param_search"] = false;
  st["trial_name"] = nullptr;
  st["trial_params"] = nullptr;
  st["stateful_callbacks"] = {
      {"EarlyStoppingCallback",
       {{"args", {{"early_stopping_patience", args_.early_stopping_patience}, {"early_stopping_threshold", 0.0}}},
        {"attributes", {{"early_stopping_patience_counter", evals_without_improvement_}}}}},
      {"TrainerControl", {{"args", {{"should_training_stop", stop_}}}, {"attributes", io::Json::object()}}}};
  // json.dumps(..., sort_keys=True) as the Trainer writes it: nlohmann::json keeps keys sorted.
  io::write_json(tmp + "/trainer_state.json", io::Json(nlohmann::json(st)));
  io::write_json(tmp + "/training_args.json", args_.to_json());
}

void Trainer::rotate_checkpoints() {
  if (args_.save_total_limit <= 0) return;
  auto cps = list_checkpoints(args_.output_dir);
  const std::string best =
      state_["best_model_checkpoint"].is_string() ? state_["best_model_checkpoint"].get<std::string>() : "";
  // The newest save_total_limit stay; so does the best (as the Trainer keeps it for load_best_model_at_end).
  size_t keep = static_cast<size_t>(args_.save_total_limit);
  for (size_t i = 0; i + keep < cps.size(); ++i) {
    if (args_.load_best_model_at_end && fs::path(cps[i].second) == fs::path(best)) continue;
    std::error_code ec;
    fs::remove_all(cps[i].second, ec);
  }
}

void Trainer::load_checkpoint(const std::string& dir) {
  // The loader position and the dropout streams are per rank: resuming needs the world size the
  // checkpoint was written with (a different one is refused, naming both).
  int64_t saved_world = fs::exists(dir + "/rng_state.json") ? 1 : 0;
  while (fs::exists(dir + "/" + cat("rng_state_", saved_world, ".json"))) ++saved_world;
  FT_CHECK(saved_world == 0 || saved_world == group_->size(), dir, ": the checkpoint was written by ", saved_world,
           saved_world == 1 ? " process" : " ranks", " and this run has ", group_->size(),
           "; resume with the same number of ranks (mpirun -np ", saved_world,
           "): the data order and the dropout streams are per rank");
  for (const std::string& f : {std::string("trainer_state.json"), task_.weights_file(),
                               std::string("optimizer.safetensors"), std::string("scheduler.json"), rng_state_file()})
    FT_CHECK(fs::exists(dir + "/" + f), dir, ": not a complete ftrain checkpoint (no ", f, ")");
  task_.load_weights_from(dir);
  const io::SafetensorsReader opt(dir + "/optimizer.safetensors");
  const auto& meta = opt.metadata();
  for (size_t i = 0; i < trainable_.size(); ++i) {
    const std::string& name = trainable_names_[i];
    auto it = meta.find(name + ".step");
    if (it == meta.end()) continue;  // no update yet (or frozen then)
    if (sharded() && owner_[i] != group_->rank()) continue;  // --zero 1: another rank's shard
    optim::AdamW::State s;
    s.exp_avg = opt.load(name + ".exp_avg").to(trainable_[i].dtype()).to(trainable_[i].device());
    s.exp_avg_sq = opt.load(name + ".exp_avg_sq").to(trainable_[i].dtype()).to(trainable_[i].device());
    s.step = std::stoll(it->second);
    optimizer_->set_state(trainable_[i], std::move(s));
  }
  // Every field is checked where it is read (a missing key or a wrong type names the file and the
  // place in it) and against what it must be (a step within the run, a batch within the epoch).
  const std::string sched_path = dir + "/scheduler.json", rng_path = dir + "/" + rng_state_file(),
                    state_path = dir + "/trainer_state.json";
  const io::Json sched = io::read_json(sched_path), rng = io::read_json(rng_path), st = io::read_json(state_path);
  const int64_t last_epoch = io::read_fields(sched_path, [&] { return sched.at("last_epoch").get<int64_t>(); });
  FT_CHECK(last_epoch >= 0, sched_path, ": last_epoch ", last_epoch, " is negative");
  scheduler_->set_last_step(last_epoch);
  if (scaler_) {  // --fp16: the loss scale goes on where it was (a checkpoint of an f32 or bf16 run starts afresh)
    const std::string scaler_path = dir + "/scaler.json";
    if (fs::exists(scaler_path)) {
      const io::Json sc = io::read_json(scaler_path);
      io::read_fields(scaler_path, [&] {
        scaler_->load_state(sc.at("scale").get<float>(), sc.at("_growth_tracker").get<int64_t>());
      });
    }
  }
  io::read_fields(rng_path, [&] {
    gen_.set_state(rng.at("dropout_generator").at("seed").get<uint64_t>(),
                   rng.at("dropout_generator").at("offset").get<uint64_t>());
    epoch_ = rng.at("loader").at("epoch").get<int64_t>();
    const int64_t batch = rng.at("loader").at("batch").get<int64_t>();
    FT_CHECK(epoch_ >= 0 && batch >= 0 && batch <= loader_->batches_per_epoch(), rng_path, ": the loader position (epoch ",
             epoch_, ", batch ", batch, ") is outside the data (", loader_->batches_per_epoch(), " batches per epoch)");
    task_.set_epoch(epoch_);
    loader_->seek(epoch_, batch);
  });
  io::read_fields(state_path, [&] {
    global_step_ = st.at("global_step").get<int64_t>();
    FT_CHECK(global_step_ >= 0, state_path, ": global_step ", global_step_, " is negative");
    for (const char* k : {"log_history", "best_metric", "best_global_step", "best_model_checkpoint"})
      if (st.contains(k)) state_[k] = st[k];
    FT_CHECK(state_["log_history"].is_array(), state_path, ": log_history is not a list");
    if (st.contains("stateful_callbacks"))
      evals_without_improvement_ = st.at("stateful_callbacks").at("EarlyStoppingCallback").at("attributes").value(
          "early_stopping_patience_counter", int64_t{0});
  });
}

}  // namespace ft::cli
