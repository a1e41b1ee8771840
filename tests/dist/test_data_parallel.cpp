// Data-parallel training, run under `mpirun -np 2` (ctest does; tools/test.sh runs it): on the CPU
// with MPI collectives, and (FT_DIST_CUDA) on two emulated CUDA devices through the NCCL stand-in.
// - 2 ranks x batch 8 make the same weights after 10 steps as 1 process x batch 16, to f32 rounding
//   (dropout off; 40 examples, so every third step's global batch has 8 examples, all on rank 0 and
//   none on rank 1: the empty-rank path is taken). The reference runs on rank 0 as a world of one.
// - --zero 1 (each rank updates its shard, then broadcasts it) gives the same bits as without.
// - Resume: a 2-rank run saved at step 5 and resumed with 2 ranks ends bit-identical to the
//   uninterrupted run (dropout on: every rank's generator is restored from its rng_state_<r>.json);
//   resuming that checkpoint as one process is refused, naming both world sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/dist/dist.h"
#include "tests/tools/tiny_workspace.h"
#include "tools/ftrain/commands.h"
#if defined(FT_DIST_CUDA)
#include <nccl.h>

#include "core/cuda/cuda_backend.h"
#endif

namespace ft::cli {
namespace {

namespace fs = std::filesystem;

Device device(bool single = false) {
#if defined(FT_DIST_CUDA)
  EXPECT_TRUE(install_cuda_backend());
  const int index = single ? 0 : dist::world().local_rank();
  use_cuda_device(index);
  return Device(DeviceType::cuda, index);
#else
  (void)single;
  return kCPU;
#endif
}

// Rank 0 makes the workspace; every rank gets its path.
std::string shared_workspace(const std::string& name, double dropout) {
  dist::Group& g = dist::world();
  std::string dir = g.rank() == 0 ? make_workspace(name, dropout) : std::string();
  return g.all_gather(dir)[0];
}

TrainArgs dp_args(const std::string& ws, const std::string& out, int64_t batch) {
  TrainArgs a = tiny_args(ws, out);
  a.per_device_train_batch_size = batch;
  a.max_steps = 10;
  a.lr_scheduler_type = "constant";
  a.learning_rate = 1e-2;
  a.adam_epsilon = 1.0;  // update ~ lr * m / (sqrt(v) + 1): proportional to the gradient, not its sign
  a.max_grad_norm = 0;
  return a;
}

// max |wa - wb| over the encoder's weights relative to the largest update of wa (wa - w0), after
// taking off each element's f32 rounding slack: w + update is stored to half an ulp of w at each of
// the 10 steps in both runs, so 10 ulps of |w| (as in the accumulation test of test_trainer.cpp).
struct Diff {
  double rel = 0, raw = 0;
};
Diff compare(const std::string& ws, const std::map<std::string, Tensor>& wa, const std::map<std::string, Tensor>& wb) {
  const io::SafetensorsFile init = io::read_safetensors(ws + "/model/model.safetensors");
  double excess = 0, diff = 0, scale = 0;
  for (auto& [name, t] : wa) {
    if (name.rfind("bert.", 0) != 0) continue;
    const std::vector<float> w0 = init.tensors.at(name.substr(5)).to_vector<float>(), a = t.to_vector<float>(),
                             b = wb.at(name).to_vector<float>();
    for (size_t i = 0; i < a.size(); ++i) {
      scale = std::max(scale, std::abs(double(a[i]) - w0[i]));
      const double d = std::abs(double(a[i]) - double(b[i]));
      diff = std::max(diff, d);
      excess = std::max(excess, d - 10 * std::abs(double(a[i])) * std::ldexp(1.0, -23));
    }
  }
  return Diff{std::max(0.0, excess) / scale, diff / scale};
}

bool bit_identical(const std::map<std::string, Tensor>& wa, const std::map<std::string, Tensor>& wb) {
  if (wa.size() != wb.size()) return false;
  for (auto& [name, t] : wa) {
    const std::vector<float> x = t.to_vector<float>(), y = wb.at(name).to_vector<float>();
    if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) != 0) return false;
  }
  return true;
}

#if defined(FT_DIST_CUDA)
// The collectives the Trainer uses, through NCCL's interface on the stand-in: results, and the
// argument rules (NCCL's in-place forms, extents, one device per rank, ranks that must agree).
TEST(NcclStandIn, CollectivesAndTheRulesNcclDefines) {
  dist::Group& g = dist::world();
  const Device d = device();
  dist::Communicator& comm = g.communicator(d);
  EXPECT_STREQ(comm.name(), "nccl");
  const TensorOptions o = TensorOptions(DType::f32).with_device(d);
  const double r = g.rank();
  Tensor x = from_vector({1 + r, 10 + r, 100 + r}, {3}, o);
  comm.all_reduce(x, dist::ReduceOp::sum);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{3, 21, 201}));
  Tensor gathered = zeros({6}, o);
  comm.all_gather(from_vector({r, -r, 7}, {3}, o), gathered);
  EXPECT_EQ(gathered.to_vector<float>(), (std::vector<float>{0, 0, 7, 1, -1, 7}));
  Tensor mine = zeros({2}, o);
  comm.reduce_scatter(from_vector({1, 2, 3 + r, 4}, {4}, o), mine);
  EXPECT_EQ(mine.to_vector<float>(), g.rank() == 0 ? (std::vector<float>{2, 4}) : (std::vector<float>{7, 8}));
  Tensor b = from_vector({5 + r}, {1}, o);
  comm.broadcast(b, 1);
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{6}));

  ncclUniqueId id{};
  if (g.rank() == 0) {
    ASSERT_EQ(ncclGetUniqueId(&id), ncclSuccess);
  }
  g.broadcast(&id, sizeof id, 0);
  ncclComm_t c = nullptr;
  ASSERT_EQ(ncclCommInitRank(&c, 2, id, g.rank()), ncclSuccess);
  Tensor buf = zeros({8}, o);
  float* p = buf.data<float>();
  // AllGather in place is send == recv + rank * count; any other overlap is an error.
  EXPECT_EQ(ncclAllGather(p + 4 * g.rank(), p, 4, ncclFloat32, c, nullptr), ncclSuccess);
  EXPECT_EQ(ncclAllGather(p + 1, p, 4, ncclFloat32, c, nullptr), ncclInvalidArgument);
  EXPECT_NE(std::string(ncclGetLastError(c)).find("in-place"), std::string::npos) << ncclGetLastError(c);
  // A count past the allocation.
  EXPECT_EQ(ncclAllReduce(p, p, 9, ncclFloat32, ncclSum, c, nullptr), ncclInvalidArgument);
  // Ranks that disagree (real NCCL hangs): each names both calls.
  EXPECT_EQ(ncclAllReduce(p, p, g.rank() == 0 ? 4 : 8, ncclFloat32, ncclSum, c, nullptr), ncclInvalidUsage);
  EXPECT_NE(std::string(ncclGetLastError(c)).find("ranks disagree"), std::string::npos) << ncclGetLastError(c);
  // Grouped calls run at the outermost ncclGroupEnd, in order.
  Tensor y = full({2}, 1 + r, o);
  ASSERT_EQ(ncclGroupStart(), ncclSuccess);
  ASSERT_EQ(ncclAllReduce(y.data<float>(), y.data<float>(), 2, ncclFloat32, ncclSum, c, nullptr), ncclSuccess);
  ASSERT_EQ(ncclBroadcast(y.data<float>(), y.data<float>(), 1, ncclFloat32, 0, c, nullptr), ncclSuccess);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1 + float(r), 1 + float(r)})) << "ran before ncclGroupEnd";
  ASSERT_EQ(ncclGroupEnd(), ncclSuccess);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3, 3}));
  EXPECT_EQ(ncclCommDestroy(c), ncclSuccess);
}
#endif

TEST(DataParallel, TwoRanksOfEightMatchOneProcessOfSixteen) {
  dist::Group& g = dist::world();
  ASSERT_EQ(g.size(), 2) << "run under mpirun -np 2";
  const std::string ws = shared_workspace("dp", 0.0);
  ASSERT_EQ(run_train(dp_args(ws, "two_ranks", 8), device()), 0);
  TrainArgs z = dp_args(ws, "two_ranks_zero1", 8);
  z.zero_stage = 1;
  ASSERT_EQ(run_train(z, device()), 0);
  if (g.rank() == 0) {
    {
      const dist::SingleProcess one;  // the reference: a world of one on rank 0
      ASSERT_EQ(run_train(dp_args(ws, "one_process", 16), device(true)), 0);
      ASSERT_EQ(run_train(dp_args(ws, "half_batch", 8), device(true)), 0);
    }
    const auto two = weights(ws + "/two_ranks"), one = weights(ws + "/one_process");
    const Diff d = compare(ws, one, two), wrong = compare(ws, one, weights(ws + "/half_batch"));
    std::printf("[dp] 2 ranks x 8 vs 1 x 16: max |dw| / max |update| = %.3e (%.3e beyond 10 ulps of w); 1 x 8: %.3e\n",
                d.raw, d.rel, wrong.rel);
    EXPECT_LE(d.rel, 1e-5);
    EXPECT_GT(wrong.rel, 1e-2) << "the comparison cannot tell different batches apart";
    EXPECT_TRUE(bit_identical(two, weights(ws + "/two_ranks_zero1")))
        << "--zero 1 changed the update: " << compare(ws, two, weights(ws + "/two_ranks_zero1")).rel;
    // The output directory is rank 0's alone and holds what a single process writes.
    for (const char* f : {"model.safetensors", "config.json", "trainer_state.json", "train_results.json"})
      EXPECT_TRUE(fs::exists(ws + "/two_ranks/" + f)) << f;
  }
  g.barrier();
  if (g.rank() == 0) fs::remove_all(ws);
}

TEST(DataParallel, ResumeWithTwoRanksIsBitExact) {
  dist::Group& g = dist::world();
  const std::string ws = shared_workspace("dp_resume", 0.1);
  TrainArgs a = dp_args(ws, "full", 8);
  a.save_strategy = "steps";
  a.save_steps = 5;
  a.gradient_accumulation_steps = 2;
  a.max_steps = 8;  // 40 examples / 16 a global batch: 3 batches an epoch, steps of 2 cross epochs
  ASSERT_EQ(run_train(a, device()), 0);
  for (int r = 0; r < 2; ++r)
    EXPECT_TRUE(fs::exists(a.output_dir + "/checkpoint-5/rng_state_" + std::to_string(r) + ".json"));
  EXPECT_FALSE(fs::exists(a.output_dir + "/checkpoint-5/rng_state.json"));
  TrainArgs b = a;
  b.output_dir = ws + "/resumed";
  if (g.rank() == 0) {
    fs::create_directories(b.output_dir);
    fs::copy(a.output_dir + "/checkpoint-5", b.output_dir + "/checkpoint-5", fs::copy_options::recursive);
  }
  g.barrier();
  b.resume_from_checkpoint = "latest";
  ASSERT_EQ(run_train(b, device()), 0);
  if (g.rank() == 0) {
    EXPECT_TRUE(bit_identical(weights(a.output_dir), weights(b.output_dir))) << "the resumed run differs";
    EXPECT_FALSE(bit_identical(weights(a.output_dir), weights(a.output_dir + "/checkpoint-5")));
    const dist::SingleProcess one;
    TrainArgs c = b;
    c.output_dir = ws + "/one";
    fs::create_directories(c.output_dir);
    fs::copy(a.output_dir + "/checkpoint-5", c.output_dir + "/checkpoint-5", fs::copy_options::recursive);
    try {
      run_train(c, device(true));
      ADD_FAILURE() << "resuming a 2-rank checkpoint as one process was not refused";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("written by 2 ranks and this run has 1"), std::string::npos) << e.what();
    }
  }
  g.barrier();
  if (g.rank() == 0) fs::remove_all(ws);
}

}  // namespace
}  // namespace ft::cli

int main(int argc, char** argv) {
  ft::dist::init();
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  ft::dist::finalize();
  return rc;
}
