// ftrain train: fine-tunes a pretrained model on a data set and leaves in --output_dir the model (a
// Hugging Face directory), checkpoint-N directories, metrics.jsonl, train/eval/all_results.json,
// trainer_state.json, a TensorBoard event file under runs/ and training_curves.svg.
#include <filesystem>

#include "core/dist/dist.h"
#include "core/error.h"
#include "core/dtype.h"
#include "io/config.h"
#include "tools/ftrain/commands.h"
#include "tools/ftrain/output_dir.h"
#include "tools/ftrain/report.h"
#include "tools/ftrain/trainer.h"

namespace ft::cli {

namespace fs = std::filesystem;

namespace {

// Bytes a checkpoint takes (the model in f32 and AdamW's two moments per trained tensor) and the
// final model, for the free-space check before training.
uint64_t model_bytes(const nn::Module& m) {
  uint64_t b = 0;
  for (auto& [name, t] : m.state_dict()) b += static_cast<uint64_t>(t.numel()) * (is_floating(t.dtype()) ? 4 : dtype_size(t.dtype()));
  return b;
}

uint64_t trainable_bytes(nn::Module& m) {
  uint64_t b = 0;
  for (auto& [name, p] : m.named_parameters())
    if (p.requires_grad()) b += static_cast<uint64_t>(p.numel()) * 4;
  return b;
}

io::Json merged(std::initializer_list<const io::Json*> parts) {
  io::Json j = io::Json::object();
  for (const io::Json* p : parts)
    for (auto& [k, v] : p->items()) j[k] = v;
  return j;
}

}  // namespace

// Data parallel (under mpirun): every rank loads the model and the data and trains on its share of
// each batch; rank 0 alone locks and writes the output directory, and what can fail there fails on
// every rank with rank 0's message (dist::on_main_process).
int run_train(const TrainArgs& args, Device device) {
  dist::Group& group = dist::current();
  validate(args, Command::train);
  std::unique_ptr<OutputLock> lock;  // rank 0's, held until the run ends
  dist::on_main_process(group, [&] { lock = open_output_dir(args); });
  Reporter rep(args, args.output_dir);
  std::unique_ptr<Task> task;
  dist::on_every_process(group, [&] { task = make_task(args, Command::train, device, rep); });
  rep.message(cat("model ", args.model_name_or_path, " (", task->problem_type(),
                  task->problem_type() == "causal_lm" ? std::string() : cat(", ", task->num_labels(), " labels"), ") on ",
                  device.str(),
                  group.distributed() ? cat(", data parallel over ", group.size(), " ranks (this is rank 0)") : ""));
  Trainer trainer(args, *task, rep);
  const uint64_t model = model_bytes(task->model()), checkpoint = model + 2 * trainable_bytes(task->model());
  dist::on_main_process(group, [&] {
    if (args.overwrite_output_dir && args.resume_from_checkpoint.empty()) {
      const std::vector<std::string> removed = clear_previous_run(args.output_dir);
      if (!removed.empty())
        rep.message(cat("--overwrite_output_dir: removed the previous run's ", name_list(removed, 8),
                        " (a previous model stays until this run saves its own)"));
    }
    if (args.save_strategy != "no")
      warn_if_short_of_space(args.output_dir, checkpoint + model, "a checkpoint and the final model", rep);
    else
      warn_if_short_of_space(args.output_dir, model, "the final model", rep);
  });
  const bool has_eval = task->size(Split::eval) > 0;
  io::Json before = io::Json::object();
  if (args.eval_on_start && has_eval) {
    Metrics m;
    before = evaluate_split(*task, Split::eval, "eval", args.per_device_eval_batch_size, args.dataloader_num_workers, &m);
    rep.eval_table("evaluation before training", before, &m, task->label_names());
  }
  const io::Json train = trainer.train();
  if (trainer.interrupted()) return trainer.exit_status();
  io::Json eval = io::Json::object(), test = io::Json::object();
  if (has_eval) {
    Metrics m;
    if (const io::Json* done = trainer.final_evaluation(&m)) {
      eval = *done;  // made at the last step with these weights
    } else {
      eval = evaluate_split(*task, Split::eval, "eval", args.per_device_eval_batch_size, args.dataloader_num_workers,
                            &m);
      rep.eval_table("final evaluation", eval, &m, task->label_names());
    }
    eval["epoch"] = trainer.state()["log_history"].back().value("epoch", 0.0);
    if (!m.confusion.empty()) eval["eval_confusion_matrix"] = m.confusion;
  }
  if (task->size(Split::test) > 0) {
    Metrics m;
    test = evaluate_split(*task, Split::test, "test", args.per_device_eval_batch_size, args.dataloader_num_workers, &m);
    rep.eval_table("test set", test, &m, task->label_names());
    if (!m.confusion.empty()) test["test_confusion_matrix"] = m.confusion;
  }
  std::string plot_metric;
  if (has_eval)
    plot_metric = !args.metric_for_best_model.empty() ? eval_key(args.metric_for_best_model)
                  : task->problem_type() == "single_label_classification" ? "eval_accuracy"
                                                                          : "eval_loss";
  dist::on_main_process(group, [&] {
    io::write_json(args.output_dir + "/train_results.json", train);
    if (has_eval) io::write_json(args.output_dir + "/eval_results.json", eval);
    if (task->size(Split::test) > 0) io::write_json(args.output_dir + "/test_results.json", test);
    io::write_json(args.output_dir + "/all_results.json", merged({&train, &eval, &test}));
    write_training_plot(args.output_dir + "/training_curves.svg", trainer.state()["log_history"], plot_metric);
  });
  io::Json summary = train;
  if (has_eval && !plot_metric.empty() && eval.contains(plot_metric)) {
    if (before.contains(plot_metric)) summary[plot_metric + " (before training)"] = before[plot_metric];
    summary[plot_metric] = eval[plot_metric];
  }
  rep.summary(cat("done: ", trainer.global_step(), " steps; model saved to ", args.output_dir), summary);
  return 0;
}

}  // namespace ft::cli
