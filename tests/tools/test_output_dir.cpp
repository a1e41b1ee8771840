// The output directory's guarantees: one run at a time (the lock names its holder), a final save that
// fails leaves the previous model whole, --overwrite_output_dir removes the previous run's files and
// nothing else, and a refusal's hint leads somewhere.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "tools/ftrain/output_dir.h"
#include "tools/ftrain/trainer.h"
#include "tests/common/test_util.h"

namespace ft::cli {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const std::string d = fs::temp_directory_path().string() + "/ft_outdir_" + name + "_" + std::to_string(getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

using test::error_of;

TEST(OutputDir, ASecondLockIsRefusedNamingTheHolder) {
  const std::string d = fresh_dir("lock");
  {
    const OutputLock first(d);
    EXPECT_EQ(slurp(d + "/.ftrain.lock"), std::to_string(getpid()) + "\n");
    // flock(2) locks belong to an open file, so a second open in this process conflicts as another
    // process's would.
    const std::string e = error_of([&] { OutputLock second(d); });
    EXPECT_EQ(e, "--output_dir " + d + " is in use by another ftrain run (pid " + std::to_string(getpid()) +
                     "); wait for it to end, or choose another --output_dir");
  }
  EXPECT_FALSE(fs::exists(d + "/.ftrain.lock")) << "the lock file outlived its holder";
  { const OutputLock again(d); }  // released: the next run takes it
  fs::remove_all(d);
}

TEST(OutputDir, AFailedFinalSaveLeavesThePreviousModel) {
  const std::string d = fresh_dir("publish");
  std::ofstream(d + "/config.json") << "old config";
  std::ofstream(d + "/model.safetensors") << "old weights";
  std::ofstream(d + "/vocab.txt") << "old vocabulary";
  const std::string e = error_of([&] {
    publish_model(d, [](const std::string& staging) {
      std::ofstream(staging + "/config.json") << "new config";
      throw Error(staging + "/model.safetensors: cannot write: No space left on device");
    });
  });
  EXPECT_NE(e.find("saving the final model failed: "), std::string::npos) << e;
  EXPECT_NE(e.find("No space left on device (the files already in " + d + " are unchanged)"), std::string::npos) << e;
  EXPECT_EQ(slurp(d + "/config.json"), "old config");
  EXPECT_EQ(slurp(d + "/model.safetensors"), "old weights");
  EXPECT_FALSE(fs::exists(d + "/" + kStagingDir));
  // A complete save replaces the files, and a file of the old model that the new one lacks goes.
  publish_model(d, [](const std::string& staging) {
    std::ofstream(staging + "/config.json") << "new config";
    std::ofstream(staging + "/model.safetensors") << "new weights";
    std::ofstream(staging + "/preprocessor_config.json") << "{}";
  });
  EXPECT_EQ(slurp(d + "/config.json"), "new config");
  EXPECT_EQ(slurp(d + "/model.safetensors"), "new weights");
  EXPECT_TRUE(fs::exists(d + "/preprocessor_config.json"));
  EXPECT_FALSE(fs::exists(d + "/vocab.txt"));
  EXPECT_FALSE(fs::exists(d + "/" + kStagingDir));
  fs::remove_all(d);
}

TEST(OutputDir, OverwriteRemovesThePreviousRunsFilesOnly) {
  const std::string d = fresh_dir("overwrite");
  for (const char* f : {"checkpoint-336", "checkpoint-12.tmp", "runs/Dec01_host"}) fs::create_directories(d + "/" + f);
  for (const char* f : {"metrics.jsonl", "eval_results.json", "all_results.json", "trainer_state.json",
                        "training_curves.svg", "config.json", "model.safetensors", "notes.txt"})
    std::ofstream(d + "/" + f) << "x";
  const std::vector<std::string> removed = clear_previous_run(d);
  EXPECT_EQ(removed, (std::vector<std::string>{"all_results.json", "checkpoint-12.tmp", "checkpoint-336",
                                               "eval_results.json", "metrics.jsonl", "runs", "trainer_state.json",
                                               "training_curves.svg"}));
  for (const char* kept : {"config.json", "model.safetensors", "notes.txt"}) EXPECT_TRUE(fs::exists(d + "/" + kept));
  fs::remove_all(d);
}

TEST(OutputDir, TheRefusalsHintLeadsSomewhere) {
  TrainArgs a;
  a.output_dir = fresh_dir("hint");
  fs::create_directories(a.output_dir + "/checkpoint-5.tmp");
  std::ofstream(a.output_dir + "/metrics.jsonl") << "{}\n";
  // Only an incomplete checkpoint: resuming is no way out, starting over is.
  std::string e = error_of([&] { open_output_dir(a); });
  EXPECT_NE(e.find("pass --overwrite_output_dir to start over: it holds no complete checkpoint to resume, only "
                   "checkpoint-5.tmp"),
            std::string::npos)
      << e;
  EXPECT_EQ(e.find("resume_from_checkpoint"), std::string::npos) << e;
  // A complete one: both ways are offered, the resume naming it.
  fs::create_directories(a.output_dir + "/checkpoint-4");
  e = error_of([&] { open_output_dir(a); });
  EXPECT_NE(e.find("or --resume_from_checkpoint latest to continue from checkpoint-4"), std::string::npos) << e;
  // A directory holding only a lock file left by a killed run counts as empty.
  const std::string empty = fresh_dir("hint_empty");
  std::ofstream(empty + "/.ftrain.lock") << "12345\n";
  a.output_dir = empty;
  EXPECT_NO_THROW(open_output_dir(a));
  fs::remove_all(empty);
}

}  // namespace
}  // namespace ft::cli
