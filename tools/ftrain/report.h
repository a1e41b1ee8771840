// What a run tells the user and leaves behind about its progress: the console (a progress bar on a
// terminal, plain lines otherwise, nothing but errors and the summary under --quiet, one JSON object
// per line under --log_format json), metrics.jsonl, the TensorBoard event file (tags as the Hugging
// Face TensorBoardCallback writes them: eval_* -> eval/*, everything else train/*) and the plot.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "io/config.h"
#include "io/tensorboard.h"
#include "tools/ftrain/args.h"
#include "tools/ftrain/metrics.h"

namespace ft::cli {

class Reporter {
 public:
  // output_dir empty: console only (eval, predict). On ranks other than 0 of a distributed run it
  // says and writes nothing (rank 0 reports for all: the values it logs are agreed by every rank).
  Reporter(const TrainArgs& args, const std::string& output_dir);
  ~Reporter();
  void message(const std::string& text);  // an informational line (stderr-free; hidden under --quiet)
  void warning(const std::string& text);  // always shown, on stderr
  // Called after every optimizer step; draws the bar on a terminal.
  void progress(int64_t step, int64_t total, double epoch, double loss, double lr, double samples_per_second,
                double eta_seconds);
  // A log_history entry: appended to metrics.jsonl, written to TensorBoard, printed.
  void log(const io::Json& entry);
  // metrics.jsonl replaced by these entries (a resumed run: the checkpoint's log history).
  void rewrite_log(const io::Json& entries);
  // An evaluation's metrics as a table (and the confusion matrix with class names).
  void eval_table(const std::string& title, const io::Json& metrics, const Metrics* m,
                  const std::vector<std::string>& label_names);
  void summary(const std::string& title, const io::Json& results);  // shown even under --quiet
  void end_progress();

 private:
  bool text() const { return !quiet_ && !json_; }
  void clear_bar();
  void append_line(const std::string& path, const std::string& line);
  bool quiet_, json_, tty_;
  std::string output_dir_, tb_dir_;
  std::unique_ptr<io::EventWriter> tb_;
  bool muted_;
  bool bar_shown_ = false, log_failed_ = false;
  double last_speed_ = 0, last_eta_ = 0;
  int64_t total_ = 0;
};

// An SVG with the training loss and, when there is one, the evaluation metric against the step.
void write_training_plot(const std::string& path, const io::Json& log_history, const std::string& eval_metric);

std::string format_duration(double seconds);

}  // namespace ft::cli
