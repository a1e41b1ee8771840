// The output directory of a run, made safe: one run at a time (an advisory lock that names its
// holder), checked before any work is done, the previous run's files cleared under
// --overwrite_output_dir, and the final model moved in only once it is completely written.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/ftrain/args.h"

namespace ft::cli {

class Reporter;

// An exclusive flock(2) on DIR/.ftrain.lock, held for the object's life; the kernel drops it however
// the process ends (kill -9 included), so a stale lock file never blocks a later run. The file holds
// the holder's pid, which a refused run names. Creating and writing it is also the check that DIR can
// be written at all, before hours of training.
class OutputLock {
 public:
  explicit OutputLock(const std::string& dir);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  static constexpr const char* kFileName = ".ftrain.lock";

 private:
  std::string path_;
  int fd_ = -1;
};

// Creates --output_dir when needed, locks it and checks that it may be used: a directory with files
// needs --overwrite_output_dir or --resume_from_checkpoint, and the refusal says which one leads
// somewhere (a complete checkpoint to resume, or only an incomplete one).
std::unique_ptr<OutputLock> open_output_dir(const TrainArgs& args);

// --overwrite_output_dir: removes the files of a previous run that this run would mix with its own or
// that `latest` and rotation would take for its own (checkpoints, logs, results, TensorBoard runs).
// The previous model's files stay until the new model replaces them. Returns what was removed.
std::vector<std::string> clear_previous_run(const std::string& dir);

// A warning when DIR's file system has less free space than `bytes_needed`.
void warn_if_short_of_space(const std::string& dir, uint64_t bytes_needed, const std::string& what, Reporter& rep);

// Saves the final model without ever leaving a mix: `write` fills DIR/.ftrain-final.tmp/, then each
// file is renamed into DIR (renames need no space), and files a previous model had that the new one
// lacks are removed. If writing fails (disk full, ...), the staging folder is removed, DIR keeps its
// previous files, and the error says why.
void publish_model(const std::string& dir, const std::function<void(const std::string& staging)>& write);

// The names of ftrain's own run files in an output directory, and the staging folder's.
bool is_run_file(const std::string& name);
inline constexpr const char* kStagingDir = ".ftrain-final.tmp";

}  // namespace ft::cli
