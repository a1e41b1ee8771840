// ftrain eval: evaluates a fine-tuned model directory on a labelled file; prints the metrics and, with
// --output_dir, writes eval_results.json there.
#include <filesystem>

#include "core/error.h"
#include "tools/ftrain/commands.h"
#include "tools/ftrain/output_dir.h"
#include "tools/ftrain/report.h"
#include "tools/ftrain/trainer.h"

namespace ft::cli {

int run_eval(const TrainArgs& args, Device device) {
  validate(args, Command::eval);
  std::unique_ptr<OutputLock> lock;  // eval_results.json goes there: no run may write it meanwhile
  if (!args.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.output_dir, ec);
    FT_CHECK(!ec, "--output_dir ", args.output_dir, ": cannot create it: ", ec.message());
    lock = std::make_unique<OutputLock>(args.output_dir);
  }
  Reporter rep(args, "");
  std::unique_ptr<Task> task = make_task(args, Command::eval, device, rep);
  Metrics m;
  io::Json eval = evaluate_split(*task, Split::eval, "eval", args.per_device_eval_batch_size,
                                 args.dataloader_num_workers, &m);
  eval["eval_samples"] = task->size(Split::eval);
  rep.eval_table(cat("evaluation of ", args.model_name_or_path, " on ", args.validation_file), eval, &m,
                 task->label_names());
  if (!m.confusion.empty()) eval["eval_confusion_matrix"] = m.confusion;
  if (!args.output_dir.empty()) {
    io::write_json(args.output_dir + "/eval_results.json", eval);
  }
  if (args.quiet || args.log_format == "json") rep.summary("evaluation", eval);
  return 0;
}

}  // namespace ft::cli
