// Training invariants of the Trainer, through run_train on a tiny random BERT and a small text data
// set, on the CPU and (FT_TRAINER_CUDA) the emulated CUDA device:
// - resume: a run of 2N steps that saved checkpoint-N, and a second run resumed from that checkpoint,
//   end with bit-identical weights (dropout on, gradient accumulation, an epoch boundary crossed);
// - gradient accumulation: k micro-batches of B/k make the same update as one batch of B, within f32
//   rounding (Adam's epsilon set large so that the update is proportional to the gradient, not its sign);
// - --freeze leaves the frozen tensors untouched; save_total_limit keeps the newest checkpoints.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/ops.h"
#include "io/config.h"
#include "io/safetensors.h"
#include "models/bert/bert.h"
#include "tests/common/test_util.h"
#include "tests/tools/tiny_workspace.h"
#include "tools/ftrain/commands.h"
#include "tools/ftrain/trainer.h"
#if defined(FT_TRAINER_CUDA)
#include "core/cuda/cuda_backend.h"
#include "kernels/cuda/runtime.h"
#endif

namespace ft::cli {
namespace {

namespace fs = std::filesystem;

// In f32, --bf16 and --fp16 (the loss scaler's state included: both runs' final scaler.json agree).
class TrainerResume : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainerResume, ResumeContinuesBitForBit) {
  const std::string precision = GetParam();
  const std::string ws = make_workspace("resume_" + precision, 0.1);
  // 40 examples, batches of 4, 2 micro-batches per step: 5 steps per epoch; 14 steps cross two epoch
  // boundaries, and the checkpoint at step 7 sits in the middle of the second epoch.
  TrainArgs a = tiny_args(ws, "full");
  a.bf16 = precision == "bf16";
  a.fp16 = precision == "fp16";
  a.gradient_accumulation_steps = 2;
  a.max_steps = 14;
  a.save_strategy = "steps";
  a.save_steps = 7;
  a.warmup_steps = 2;
  ASSERT_EQ(run_train(a, trainer_device()), 0);
  ASSERT_TRUE(fs::exists(a.output_dir + "/checkpoint-7/optimizer.safetensors"));

  TrainArgs b = a;
  b.output_dir = ws + "/resumed";
  fs::create_directories(b.output_dir);
  fs::copy(a.output_dir + "/checkpoint-7", b.output_dir + "/checkpoint-7", fs::copy_options::recursive);
  b.resume_from_checkpoint = "latest";
  ASSERT_EQ(run_train(b, trainer_device()), 0);

  const auto wa = weights(a.output_dir), wb = weights(b.output_dir), w7 = weights(a.output_dir + "/checkpoint-7");
  ASSERT_EQ(wa.size(), wb.size());
  int64_t moved = 0;
  for (auto& [name, t] : wa) {
    const std::vector<float> x = t.to_vector<float>(), y = wb.at(name).to_vector<float>();
    ASSERT_EQ(x.size(), y.size()) << name;
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0) << name << " differs after resuming";
    moved += x != w7.at(name).to_vector<float>();
  }
  EXPECT_GT(moved, 0) << "the steps after the checkpoint changed nothing";
  // The resumed run's history continues the first one's.
  const io::Json st = io::read_json(b.output_dir + "/trainer_state.json");
  EXPECT_EQ(st["global_step"].get<int64_t>(), 14);
  if (a.fp16) {
    const io::Json sa = io::read_json(a.output_dir + "/checkpoint-14/scaler.json");
    EXPECT_EQ(sa, io::read_json(b.output_dir + "/checkpoint-14/scaler.json"));
    EXPECT_GT(sa["_growth_tracker"].get<int64_t>() + (sa["scale"].get<double>() != 65536.0), 7)
        << "the scaler's state after 14 steps should carry steps from before the checkpoint";
  } else {
    EXPECT_FALSE(fs::exists(a.output_dir + "/checkpoint-14/scaler.json"));
  }
  fs::remove_all(ws);
}

INSTANTIATE_TEST_SUITE_P(Precisions, TrainerResume, ::testing::Values("f32", "bf16", "fp16"));

TEST(Trainer, AccumulatedMicroBatchesMatchOneLargeBatch) {
  const std::string ws = make_workspace("accum", 0.0);
  auto run = [&](const std::string& out, int64_t batch, int64_t accum) {
    TrainArgs a = tiny_args(ws, out);
    a.per_device_train_batch_size = batch;
    a.gradient_accumulation_steps = accum;
    a.max_steps = 2;
    a.lr_scheduler_type = "constant";
    a.learning_rate = 1e-2;
    a.adam_epsilon = 1.0;  // update ~ lr * m / (sqrt(v) + 1): proportional to the gradient's size
    a.max_grad_norm = 0;   // no clipping, which would rescale both alike
    EXPECT_EQ(run_train(a, trainer_device()), 0);
    return weights(a.output_dir);
  };
  const auto one = run("one", 8, 1), four = run("accum4", 2, 4), sum_wrong = run("accum4_b4", 4, 4);
  const io::SafetensorsFile init = io::read_safetensors(ws + "/model/model.safetensors");
  // Errors are measured against the largest update of the whole model: rounding is relative to the
  // size of the terms summed, and the key projections' gradients are small differences of large terms
  // (softmax's backward), so per tensor their relative error is large even when the sums are right.
  double diff = 0, wrong = 0, scale = 0, wmax = 0;
  int compared = 0;
  for (auto& [name, t] : one) {
    if (name.rfind("bert.", 0) != 0) continue;  // the new head starts from its own draw
    const std::vector<float> w0 = init.tensors.at(name.substr(5)).to_vector<float>(), a = t.to_vector<float>(),
                             b = four.at(name).to_vector<float>(), c = sum_wrong.at(name).to_vector<float>();
    for (size_t i = 0; i < a.size(); ++i) {
      const double d1 = double(a[i]) - w0[i], d4 = double(b[i]) - w0[i], dw = double(c[i]) - w0[i];
      scale = std::max(scale, std::abs(d1));
      wmax = std::max(wmax, std::abs(double(w0[i])));
      diff = std::max(diff, std::abs(d4 - d1));
      wrong = std::max(wrong, std::abs(dw - d1));
    }
    ++compared;
  }
  ASSERT_GT(compared, 0);
  ASSERT_GT(scale, 0);
  std::printf("[accum] max |update(4 micro-batches of 2) - update(batch of 8)| / max |update| = %.3e; "
              "a different batch of 16: %.3e\n", diff / scale, wrong / scale);
  // The weights are f32: w + update is stored to half an ulp of w, so two steps may differ by a few
  // ulps of the largest weight (|w| up to ~4 for BERT's N(0, 1) embeddings) beyond the sums' rounding.
  const double ulp = wmax * std::ldexp(1.0, -23);
  EXPECT_LE(diff, 1e-5 * scale + 4 * ulp) << "ulp of the largest weight " << ulp;
  EXPECT_GT(wrong / scale, 1e-2) << "the comparison cannot tell different batches apart";
  fs::remove_all(ws);
}

#if defined(FT_TRAINER_CUDA)
// A CUDA training step (loader copy, forward with dropout, loss, backward, clipping, AdamW) never waits
// on the device: the host reads one small step report after the optimizer (the loss of each
// micro-batch, the gradient norm, the skip flag and the device's error record), which is what logging,
// the non-finite-loss policy and the loss scaler need. Measured as the difference between runs of 3
// and 7 steps (setup, the final save and the logs are the same in both), with 2 micro-batches a step.
class TrainerSyncs : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainerSyncs, ACudaStepWaitsOnTheHostOnce) {
  const std::string precision = GetParam();
  const std::string ws = make_workspace("syncs_" + precision, 0.1);
  auto waits = [&](int64_t steps) {
    TrainArgs a = tiny_args(ws, "out" + std::to_string(steps));
    a.bf16 = precision == "bf16";
    a.fp16 = precision == "fp16";
    a.gradient_accumulation_steps = 2;
    a.max_steps = steps;
    a.logging_steps = 1;
    const cuda::SyncCounts before = cuda::sync_counts();
    EXPECT_EQ(run_train(a, trainer_device()), 0);
    const cuda::SyncCounts after = cuda::sync_counts();
    return std::make_pair(after.waits() - before.waits(), after.host_to_device - before.host_to_device);
  };
  const auto [w3, h3] = waits(3);
  const auto [w7, h7] = waits(7);
  const double per_step = static_cast<double>(w7 - w3) / 4, h2d = static_cast<double>(h7 - h3) / 4;
  std::printf("[syncs] %s: %.2f host waits and %.2f host-to-device copies per training step\n", precision.c_str(),
              per_step, h2d);
  EXPECT_LE(per_step, 1.0);
  fs::remove_all(ws);
}

INSTANTIATE_TEST_SUITE_P(Precisions, TrainerSyncs, ::testing::Values("f32", "bf16", "fp16"));
#endif

// A token id the model's vocabulary does not have (a tokenizer/model mismatch) stops the run with the
// op, the index and where: at once on the CPU, and on CUDA from the device's error record that the
// step's report carries; the device skipped the update, and no checkpoint was written.
TEST(Trainer, AnOutOfRangeTokenIdStopsTheRunNamingIt) {
  // The model's vocabulary is 3 entries short: "and", "very" and "a" have no embedding row.
  const std::string ws = make_workspace("bad_ids", 0.0, 3);
  TrainArgs a = tiny_args(ws, "out");
  a.max_steps = 3;
  a.save_strategy = "steps";
  a.save_steps = 1;
  try {
    run_train(a, trainer_device());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("embedding: index "), std::string::npos) << m;
    EXPECT_NE(m.find(" is out of range for size 18"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(a.output_dir + "/checkpoint-1"));
  fs::remove_all(ws);
}

// transformers 5.23 logs the learning rate the step applied, not the next step's: with 2 warmup steps of
// a linear schedule over 4, steps 1-4 apply 0, lr/2, lr and lr/2.
TEST(Trainer, TheLoggedLearningRateIsTheOneTheStepApplied) {
  const std::string ws = make_workspace("lr", 0.0);
  TrainArgs a = tiny_args(ws, "out");
  a.max_steps = 4;
  a.warmup_steps = 2;
  a.logging_steps = 1;
  ASSERT_EQ(run_train(a, trainer_device()), 0);
  std::vector<double> logged;
  std::ifstream f(a.output_dir + "/metrics.jsonl");
  for (std::string line; std::getline(f, line);) {
    const io::Json e = io::Json::parse(line);
    if (e.contains("learning_rate")) logged.push_back(e["learning_rate"].get<double>());
  }
  EXPECT_EQ(logged, (std::vector<double>{0.0, 5e-4, 1e-3, 5e-4}));
  const io::Json st = io::read_json(a.output_dir + "/trainer_state.json");
  EXPECT_DOUBLE_EQ(st["log_history"][1]["learning_rate"].get<double>(), 5e-4);
  fs::remove_all(ws);
}

TEST(Trainer, FreezeAndCheckpointRotation) {
  const std::string ws = make_workspace("freeze", 0.1);
  TrainArgs a = tiny_args(ws, "out");
  a.freeze = {"^bert\\.embeddings\\."};
  a.max_steps = 6;
  a.save_strategy = "steps";
  a.save_steps = 2;
  a.save_total_limit = 2;
  ASSERT_EQ(run_train(a, trainer_device()), 0);
  const auto after = weights(a.output_dir);
  const io::SafetensorsFile init = io::read_safetensors(ws + "/model/model.safetensors");
  for (auto& [name, t] : after) {
    if (name.rfind("bert.embeddings.", 0) != 0) continue;
    EXPECT_EQ(t.to_vector<float>(), init.tensors.at(name.substr(5)).to_vector<float>()) << name << " moved";
  }
  EXPECT_NE(after.at("bert.encoder.layer.0.output.dense.weight").to_vector<float>(),
            init.tensors.at("encoder.layer.0.output.dense.weight").to_vector<float>());
  const auto cps = list_checkpoints(a.output_dir);
  ASSERT_EQ(cps.size(), 2u);
  EXPECT_EQ(cps[0].first, 4);
  EXPECT_EQ(cps[1].first, 6);
  a.freeze = {"no_such_parameter"};
  a.overwrite_output_dir = true;
  try {
    run_train(a, trainer_device());
    ADD_FAILURE() << "a --freeze pattern that matches nothing was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("matches no parameter"), std::string::npos) << e.what();
  }
  fs::remove_all(ws);
}

}  // namespace
}  // namespace ft::cli
