#include "tools/ftrain/output_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/error.h"
#include "io/atomic_file.h"
#include "tools/ftrain/report.h"
#include "tools/ftrain/trainer.h"

namespace ft::cli {

namespace fs = std::filesystem;

namespace {

// Files ftrain itself writes as the model (models/*/save_pretrained): a previous model's file that
// the new model does not write is removed when the new one is moved in, so no stale tokenizer or
// preprocessor file is left beside a model of another kind.
const std::vector<std::string> kModelFiles = {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt",
                                              "tokenizer_config.json", "special_tokens_map.json",
                                              "preprocessor_config.json", "generation_config.json",
                                              "adapter_config.json", "adapter_model.safetensors", "labels.json"};

bool is_checkpoint_name(const std::string& n, bool incomplete) {
  const std::string prefix = "checkpoint-", suffix = incomplete ? ".tmp" : "";
  if (n.size() <= prefix.size() + suffix.size() || n.rfind(prefix, 0) != 0 || !n.ends_with(suffix)) return false;
  const std::string digits = n.substr(prefix.size(), n.size() - prefix.size() - suffix.size());
  return digits.find_first_not_of("0123456789") == std::string::npos;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename() != OutputLock::kFileName) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string read_fd(int fd) {
  char buf[64] = {0};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string s(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

bool is_run_file(const std::string& n) {
  static const std::set<std::string> files = {"metrics.jsonl",      "runs",          "train_results.json",
                                              "eval_results.json",  "test_results.json", "all_results.json",
                                              "training_curves.svg", "trainer_state.json", "training_args.json",
                                              kStagingDir};
  return files.count(n) > 0 || is_checkpoint_name(n, false) || is_checkpoint_name(n, true);
}

OutputLock::OutputLock(const std::string& dir) : path_(dir + "/" + kFileName) {
  // A run that just finished unlinks the file while holding the lock; whoever opened it before then
  // holds a lock on a file no longer there. Lock, then check the path still names the locked file.
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    FT_CHECK(fd_ >= 0, "--output_dir ", dir, ": cannot write to it: ", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string holder = read_fd(fd_);
      ::close(fd_);
      fd_ = -1;
      FT_CHECK(err == EWOULDBLOCK, "--output_dir ", dir, ": cannot lock ", path_, ": ", std::strerror(err));
      throw Error(cat("--output_dir ", dir, " is in use by another ftrain run (pid ", holder.empty() ? "unknown" : holder,
                      "); wait for it to end, or choose another --output_dir"));
    }
    struct stat locked {}, named {};
    if (::fstat(fd_, &locked) == 0 && ::stat(path_.c_str(), &named) == 0 && locked.st_ino == named.st_ino &&
        locked.st_dev == named.st_dev)
      break;
    ::close(fd_);
    fd_ = -1;
  }
  FT_CHECK(fd_ >= 0, "--output_dir ", dir, ": cannot take the lock ", path_);
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()) ||
      ::fsync(fd_) != 0) {
    const int err = errno;
    ::unlink(path_.c_str());
    ::close(fd_);
    fd_ = -1;
    throw Error(cat("--output_dir ", dir, ": cannot write to it: ", std::strerror(err)));
  }
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());  // while still holding the lock (see the constructor)
  ::close(fd_);
}

std::unique_ptr<OutputLock> open_output_dir(const TrainArgs& a) {
  const std::string& dir = a.output_dir;
  std::error_code ec;
  if (fs::exists(dir, ec)) FT_CHECK(fs::is_directory(dir, ec), "--output_dir ", dir, " exists and is not a directory");
  fs::create_directories(dir, ec);
  FT_CHECK(!ec, "--output_dir ", dir, ": cannot create it: ", ec.message());
  auto lock = std::make_unique<OutputLock>(dir);
  const std::vector<std::string> names = entries(dir);
  if (names.empty() || a.overwrite_output_dir || !a.resume_from_checkpoint.empty()) return lock;
  const auto complete = list_checkpoints(dir);
  if (!complete.empty())
    throw Error(cat("--output_dir ", dir, " is not empty; pass --overwrite_output_dir to start over in it (the previous "
                    "run's checkpoints and logs are removed), or --resume_from_checkpoint latest to continue from ",
                    fs::path(complete.back().second).filename().string()));
  const std::vector<std::string> partial = incomplete_checkpoints(dir);
  if (!partial.empty())
    throw Error(cat("--output_dir ", dir, " is not empty; pass --overwrite_output_dir to start over: it holds no "
                    "complete checkpoint to resume, only ", name_list(partial),
                    " (a run stopped while saving leaves such a folder)"));
  throw Error(cat("--output_dir ", dir, " is not empty (", name_list(names), "); pass --overwrite_output_dir to write into it"));
}

std::vector<std::string> clear_previous_run(const std::string& dir) {
  std::vector<std::string> removed;
  for (const std::string& n : entries(dir)) {
    if (!is_run_file(n)) continue;
    std::error_code ec;
    fs::remove_all(dir + "/" + n, ec);
    FT_CHECK(!ec, dir, "/", n, ": cannot remove the previous run's file (--overwrite_output_dir): ", ec.message());
    removed.push_back(n);
  }
  return removed;
}

void warn_if_short_of_space(const std::string& dir, uint64_t bytes_needed, const std::string& what, Reporter& rep) {
  struct statvfs s {};
  if (::statvfs(dir.c_str(), &s) != 0) return;
  const uint64_t avail = static_cast<uint64_t>(s.f_bavail) * static_cast<uint64_t>(s.f_frsize);
  if (avail >= bytes_needed) return;
  auto mb = [](uint64_t b) { return cat(static_cast<double>(b / 100000) / 10.0, " MB"); };
  rep.warning(cat("--output_dir ", dir, " has ", mb(avail), " free, and ", what, " needs about ", mb(bytes_needed),
                  ": saving will fail unless space is freed"));
}

void publish_model(const std::string& dir, const std::function<void(const std::string&)>& write) {
  const std::string staging = dir + "/" + kStagingDir;
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::create_directories(staging, ec);
  FT_CHECK(!ec, staging, ": cannot create it: ", ec.message());
  try {
    write(staging);
  } catch (const Error& e) {
    fs::remove_all(staging, ec);
    throw Error(cat("saving the final model failed: ", e.what(), " (the files already in ", dir, " are unchanged)"));
  }
  // Complete: move it in, file by file. A rename within one file system needs no space.
  std::set<std::string> written;
  for (const std::string& n : entries(staging)) {
    const std::string from = staging + "/" + n, to = dir + "/" + n;
    if (fs::is_directory(to, ec)) fs::remove_all(to, ec);
    FT_CHECK(std::rename(from.c_str(), to.c_str()) == 0, to, ": cannot move the saved file into place: ",
             std::strerror(errno));
    written.insert(n);
  }
  for (const std::string& n : kModelFiles)
    if (!written.count(n)) fs::remove(dir + "/" + n, ec);
  fs::remove_all(staging, ec);
  io::sync_directory(dir);
}

}  // namespace ft::cli
