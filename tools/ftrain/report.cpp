#include "tools/ftrain/report.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "core/dist/dist.h"
#include "core/error.h"
#include "io/atomic_file.h"

namespace ft::cli {
namespace {

// runs/<Mon><DD>_<HH>-<MM>-<SS>_<host>, the Trainer's default logging_dir.
std::string run_dir(const std::string& output_dir) {
  char stamp[64], host[256] = "localhost";
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  std::strftime(stamp, sizeof(stamp), "%b%d_%H-%M-%S", &tm);
  gethostname(host, sizeof(host) - 1);
  return output_dir + "/runs/" + stamp + "_" + host;
}

std::string tb_tag(const std::string& key) {
  if (key.rfind("eval_", 0) == 0) return "eval/" + key.substr(5);
  if (key.rfind("test_", 0) == 0) return "test/" + key.substr(5);
  return "train/" + key;
}

std::string number(double v) {
  char b[32];
  if (v != 0 && (std::abs(v) < 1e-3 || std::abs(v) >= 1e6)) std::snprintf(b, sizeof(b), "%.3e", v);
  else std::snprintf(b, sizeof(b), "%.4f", v);
  return b;
}

}  // namespace

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const int64_t t = static_cast<int64_t>(std::llround(s));
  char b[32];
  if (t >= 3600) std::snprintf(b, sizeof(b), "%lldh%02lldm", static_cast<long long>(t / 3600), static_cast<long long>(t / 60 % 60));
  else std::snprintf(b, sizeof(b), "%lldm%02llds", static_cast<long long>(t / 60), static_cast<long long>(t % 60));
  return b;
}

Reporter::Reporter(const TrainArgs& a, const std::string& output_dir)
    : quiet_(a.quiet), json_(a.log_format == "json"), tty_(isatty(STDOUT_FILENO) && !a.disable_tqdm),
      output_dir_(output_dir), muted_(dist::current().rank() != 0) {
  if (muted_) output_dir_.clear();
  if (!output_dir_.empty()) tb_dir_ = run_dir(output_dir_);  // created with the first entry
}

Reporter::~Reporter() = default;

void Reporter::clear_bar() {
  if (bar_shown_) {
    std::printf("\r\033[2K");
    bar_shown_ = false;
  }
}

void Reporter::end_progress() {
  if (muted_) return;
  if (bar_shown_) std::printf("\n");
  bar_shown_ = false;
  std::fflush(stdout);
}

void Reporter::message(const std::string& t) {
  if (muted_) return;
  if (json_) {
    std::printf("%s\n", io::Json{{"message", t}}.dump().c_str());
  } else if (!quiet_) {
    clear_bar();
    std::printf("%s\n", t.c_str());
  }
  std::fflush(stdout);
}

void Reporter::warning(const std::string& t) {
  if (muted_) return;
  clear_bar();
  std::fflush(stdout);
  std::fprintf(stderr, "ftrain: warning: %s\n", t.c_str());
}

void Reporter::progress(int64_t step, int64_t total, double epoch, double loss, double lr, double sps, double eta) {
  if (muted_) return;
  total_ = total;
  last_speed_ = sps;
  last_eta_ = eta;
  if (!text() || !tty_) return;
  const int width = 30;
  const int filled = total > 0 ? static_cast<int>(width * step / total) : 0;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(width, '.');
  std::printf("\r\033[2K[%s] %lld/%lld | epoch %.2f | loss %.4f | lr %.2e | %.1f samples/s | ETA %s", bar.c_str(),
              static_cast<long long>(step), static_cast<long long>(total), epoch, loss, lr, sps,
              format_duration(last_eta_).c_str());
  std::fflush(stdout);
  bar_shown_ = true;
}

void Reporter::log(const io::Json& entry) {
  if (muted_) return;
  const int64_t step = entry.value("step", int64_t{0});
  if (!output_dir_.empty()) append_line(output_dir_ + "/metrics.jsonl", entry.dump());
  // TensorBoard, like metrics.jsonl, is a log: a failure to write it (a full disk) is one warning and
  // the end of the event file, not the end of the run, whose checkpoints report such causes as errors.
  try {
    if (!tb_ && !tb_dir_.empty()) tb_ = std::make_unique<io::EventWriter>(tb_dir_);
    if (tb_)
      for (auto& [k, v] : entry.items())
        if (v.is_number() && k != "step") tb_->add_scalar(tb_tag(k), v.get<double>(), step);
  } catch (const Error& e) {
    warning(cat(e.what(), "; TensorBoard logging stops"));
    tb_.reset();
    tb_dir_.clear();
  }
  if (json_) {
    std::printf("%s\n", entry.dump().c_str());
  } else if (!quiet_ && entry.contains("loss")) {
    clear_bar();
    std::string line = "step " + std::to_string(step);
    if (total_ > 0) line += "/" + std::to_string(total_);
    for (const char* k : {"epoch", "loss", "learning_rate", "grad_norm"})
      if (entry.contains(k)) line += std::string(" | ") + k + " " + number(entry[k].get<double>());
    if (last_speed_ > 0) line += " | " + number(last_speed_) + " samples/s | ETA " + format_duration(last_eta_);
    std::printf("%s\n", line.c_str());
  }
  std::fflush(stdout);
}

// A log line appended; a failure (disk full) is a warning once, since the checkpoints, not the log,
// carry the run, and the next save reports the same cause as an error.
void Reporter::append_line(const std::string& path, const std::string& line) {
  std::FILE* f = std::fopen(path.c_str(), "a");
  bool ok = f != nullptr && std::fputs((line + "\n").c_str(), f) >= 0 && std::fflush(f) == 0;
  const int err = errno;
  if (f && std::fclose(f) != 0) ok = false;
  if (!ok && !log_failed_) warning(cat(path, ": cannot append: ", std::strerror(err)));
  log_failed_ = log_failed_ || !ok;
}

void Reporter::rewrite_log(const io::Json& entries) {
  if (muted_) return;
  if (output_dir_.empty()) return;
  io::write_file_atomically(output_dir_ + "/metrics.jsonl", [&](std::ostream& o) {
    for (const auto& e : entries) o << e.dump() << "\n";
  });
}

void Reporter::eval_table(const std::string& title, const io::Json& metrics, const Metrics* m,
                          const std::vector<std::string>& names) {
  if (muted_) return;
  if (!text()) return;
  clear_bar();
  std::printf("\n%s\n", title.c_str());
  size_t w = 8;
  for (auto& [k, v] : metrics.items()) w = std::max(w, k.size());
  for (auto& [k, v] : metrics.items())
    if (v.is_number()) std::printf("  %-*s  %s\n", static_cast<int>(w), k.c_str(), number(v.get<double>()).c_str());
  if (m && !m->confusion.empty() && m->confusion.size() <= 20) {
    std::printf("  confusion matrix (rows: true, columns: predicted)\n");
    size_t cw = 6;
    for (const std::string& n : names) cw = std::max(cw, std::min<size_t>(n.size(), 16));
    std::printf("  %*s", static_cast<int>(cw), "");
    for (const std::string& n : names) std::printf(" %*s", static_cast<int>(cw), n.substr(0, 16).c_str());
    std::printf("\n");
    for (size_t t = 0; t < m->confusion.size(); ++t) {
      std::printf("  %*s", static_cast<int>(cw), t < names.size() ? names[t].substr(0, 16).c_str() : "?");
      for (int64_t c : m->confusion[t]) std::printf(" %*lld", static_cast<int>(cw), static_cast<long long>(c));
      std::printf("\n");
    }
  }
  std::printf("\n");
  std::fflush(stdout);
}

void Reporter::summary(const std::string& title, const io::Json& results) {
  if (muted_) return;
  if (json_) {
    std::printf("%s\n", io::Json{{"summary", title}, {"results", results}}.dump().c_str());
    std::fflush(stdout);
    return;
  }
  clear_bar();
  std::printf("%s\n", title.c_str());
  for (auto& [k, v] : results.items())
    if (v.is_number()) std::printf("  %-28s %s\n", k.c_str(), number(v.get<double>()).c_str());
  std::fflush(stdout);
}

void write_training_plot(const std::string& path, const io::Json& history, const std::string& eval_metric) {
  struct Series {
    std::string name;
    std::vector<std::pair<double, double>> pts;
  };
  Series loss{"train loss", {}}, eval{eval_metric, {}};
  for (const auto& e : history) {
    const double step = e.value("step", 0.0);
    if (e.contains("loss") && e["loss"].is_number()) loss.pts.push_back({step, e["loss"].get<double>()});
    if (!eval_metric.empty() && e.contains(eval_metric) && e[eval_metric].is_number())
      eval.pts.push_back({step, e[eval_metric].get<double>()});
  }
  const int W = 720, H = 260, L = 70, R = 20, T = 30, B = 40;
  std::ostringstream svg;
  std::vector<const Series*> panels{&loss};
  if (!eval.pts.empty()) panels.push_back(&eval);
  const int total_h = H * static_cast<int>(panels.size());
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << total_h
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (size_t p = 0; p < panels.size(); ++p) {
    const Series& s = *panels[p];
    const int y0 = H * static_cast<int>(p);
    double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
    if (!s.pts.empty()) {
      xmin = xmax = s.pts[0].first;
      ymin = ymax = s.pts[0].second;
      for (auto& [x, y] : s.pts) {
        xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
      }
    }
    if (xmax == xmin) xmax = xmin + 1;
    if (ymax == ymin) ymax = ymin + 1;
    auto px = [&](double x) { return L + (x - xmin) / (xmax - xmin) * (W - L - R); };
    auto py = [&](double y) { return y0 + T + (ymax - y) / (ymax - ymin) * (H - T - B); };
    svg << "<text x=\"" << L << "\" y=\"" << y0 + 18 << "\" font-weight=\"bold\">" << s.name << " vs step</text>\n";
    svg << "<rect x=\"" << L << "\" y=\"" << y0 + T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
        << "\" fill=\"none\" stroke=\"#888\"/>\n";
    for (int k = 0; k <= 4; ++k) {
      const double y = ymin + (ymax - ymin) * k / 4, x = xmin + (xmax - xmin) * k / 4;
      svg << "<text x=\"" << L - 6 << "\" y=\"" << py(y) + 4 << "\" text-anchor=\"end\">" << number(y) << "</text>\n";
      svg << "<text x=\"" << px(x) << "\" y=\"" << y0 + H - B + 16 << "\" text-anchor=\"middle\">"
          << static_cast<int64_t>(std::llround(x)) << "</text>\n";
    }
    svg << "<polyline fill=\"none\" stroke=\"" << (p == 0 ? "#1f77b4" : "#d62728") << "\" stroke-width=\"1.5\" points=\"";
    for (auto& [x, y] : s.pts) svg << px(x) << "," << py(y) << " ";
    svg << "\"/>\n";
    for (auto& [x, y] : s.pts)
      if (s.pts.size() < 60) svg << "<circle cx=\"" << px(x) << "\" cy=\"" << py(y) << "\" r=\"2.5\" fill=\"#333\"/>\n";
  }
  svg << "</svg>\n";
  io::write_file_atomically(path, [&](std::ostream& o) { o << svg.str(); });
}

}  // namespace ft::cli
