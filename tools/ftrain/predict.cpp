// ftrain predict: runs a fine-tuned model over a file and writes, per example, the predicted label,
// its probability and every class's probability (softmax; sigmoid for multi-label; the value for
// regression) as CSV or JSON lines (which also carry the logits), chosen by --output_file's extension. The true label is kept when
// the file has one.
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/config.h"
#include "tools/ftrain/commands.h"
#include "tools/ftrain/report.h"
#include "tools/ftrain/serve_api.h"
#include "tools/ftrain/trainer.h"

namespace ft::cli {
namespace {

namespace fs = std::filesystem;

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

bool inside(const fs::path& p, const fs::path& dir) {
  const fs::path rel = p.lexically_relative(dir);
  return !rel.empty() && *rel.begin() != "..";
}

// The predictions never replace what they are made from: not the input file, nothing in the model's
// directory (its config.json, its weights), and only under the two suffixes that say the format.
void check_output_file(const TrainArgs& a) {
  const std::string& out = a.output_file;
  FT_CHECK(out.ends_with(".csv") || out.ends_with(".jsonl"), "--output_file ", out,
           ": the name must end in .csv or .jsonl (the format follows it)");
  std::error_code ec;
  const fs::path target = fs::weakly_canonical(out, ec);
  FT_CHECK(!ec, "--output_file ", out, ": ", ec.message());
  FT_CHECK(!fs::is_directory(target, ec), "--output_file ", out, " is a directory");
  for (const std::string& input : {a.test_file, a.config}) {
    if (input.empty()) continue;
    FT_CHECK(fs::weakly_canonical(input, ec) != target, "--output_file ", out, " is the input file ", input,
             ": choose another name");
  }
  for (const std::string& dir : {a.model_name_or_path, a.test_dir}) {
    if (dir.empty()) continue;
    FT_CHECK(!inside(target, fs::weakly_canonical(dir, ec)), "--output_file ", out, " is inside ", dir,
             dir == a.model_name_or_path ? " (the model directory)" : " (the input folder)",
             ": write predictions elsewhere");
  }
}

}  // namespace

int run_predict(const TrainArgs& args, Device device) {
  validate(args, Command::predict);
  check_output_file(args);
  const bool jsonl = args.output_file.ends_with(".jsonl");
  Reporter rep(args, "");
  std::unique_ptr<Task> task = make_task(args, Command::predict, device, rep);
  const EvalPrediction p = run_inference(*task, Split::test, args.per_device_eval_batch_size, args.dataloader_num_workers);
  const std::vector<std::string>& names = task->label_names();
  const std::string pt = task->problem_type();
  const int64_t c = p.num_labels;
  const bool labelled = !p.label_ids.empty() || !p.targets.empty();
  std::ostringstream out;
  out << std::setprecision(6);
  if (!jsonl) {
    out << task->input_name() << "," << (pt == "regression" ? "prediction" : "label,score");
    if (pt != "regression")
      for (const std::string& n : names) out << "," << csv_field("prob_" + n);
    if (labelled && pt == "single_label_classification") out << ",true_label";
    out << "\n";
  }
  for (int64_t i = 0; i < p.n; ++i) {
    const float* row = p.logits.data() + i * c;
    io::Json j = io::Json::object();
    j[task->input_name()] = task->example_text(Split::test, i);
    std::string label;
    double score = 0;
    std::vector<double> prob;
    if (pt == "regression") {
      j["prediction"] = row[0];
    } else {
      prob = class_scores(row, c, pt);
      if (pt == "multi_label_classification") {
        io::Json labels = io::Json::array();
        for (int64_t k = 0; k < c; ++k)
          if (prob[k] > 0.5) labels.push_back(names[k]), label += (label.empty() ? "" : ";") + names[k];
        j["labels"] = labels;
      } else {
        const int64_t k = std::max_element(prob.begin(), prob.end()) - prob.begin();
        label = names[k], score = prob[k];
        j["label"] = label;
        j["score"] = score;
      }
      io::Json probs = io::Json::object();
      for (int64_t k = 0; k < c; ++k) probs[names[k]] = prob[k];
      j["probabilities"] = probs;
      j["logits"] = std::vector<float>(row, row + c);
    }
    if (labelled && pt == "single_label_classification") j["true_label"] = names[p.label_ids[i]];
    if (jsonl) {
      out << j.dump() << "\n";
      continue;
    }
    out << csv_field(j[task->input_name()].get<std::string>());
    if (pt == "regression") {
      out << "," << row[0];
    } else {
      out << "," << csv_field(label) << "," << score;
      for (double v : prob) out << "," << v;
    }
    if (labelled && pt == "single_label_classification") out << "," << csv_field(names[p.label_ids[i]]);
    out << "\n";
  }
  io::write_file_atomically(args.output_file, [&](std::ostream& o) { o << out.str(); });
  const int64_t skipped = task->skipped(Split::test);
  if (skipped > 0)
    rep.warning(cat("predictions for ", p.n, " of ", p.n + skipped, " inputs written to ", args.output_file, ": ", skipped,
                    " could not be read and have no row (--skip_malformed_rows)"));
  else
    rep.message(cat("predictions for ", p.n, " examples written to ", args.output_file));
  return 0;
}

}  // namespace ft::cli
