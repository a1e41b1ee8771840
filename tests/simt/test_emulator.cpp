// The SIMT emulator's own tests: races exposed by schedules, strict-mode reports, shuffle and vote
// semantics (expected values written from the CUDA programming guide's rules), atomics across
// parallel blocks, shared memory and launch validation.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "tests/simt/test_kernels.cuh"

namespace {

using simt::Schedule;

// Sets emulator options for one test and restores the previous ones.
class WithOptions {
 public:
  WithOptions(Schedule s, bool strict, uint64_t seed = 1) : saved_(simt::options()) {
    simt::Options o = saved_;
    o.schedule = s;
    o.strict = strict;
    o.seed = seed;
    simt::set_options(o);
  }
  ~WithOptions() { simt::set_options(saved_); }

 private:
  simt::Options saved_;
};

std::string launch_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const simt::Error& e) {
    return e.what();
  }
  return "no error";
}

// Runs the neighbour kernel (4 blocks of 256) and reports whether every output is right. Inputs
// differ per call, so stale shared memory from an earlier launch cannot look right.
bool neighbour_correct(bool sync, int salt) {
  const int n = 4 * 256;
  std::vector<int> in(n), out(n, -1);
  for (int i = 0; i < n; ++i) in[i] = i * 7 + salt * 100003;
  if (sync)
    simt::launch(neighbour_kernel<true>, dim3(4), dim3(256), 0, nullptr, in.data(), out.data());
  else
    simt::launch(neighbour_kernel<false>, dim3(4), dim3(256), 0, nullptr, in.data(), out.data());
  for (int i = 0; i < n; ++i)
    if (out[i] != in[i % 256 == 0 ? i : i - 1]) return false;
  return true;
}

TEST(SimtEmulator, MissingSyncthreadsFailsInReverseAndRandomSchedules) {
  int salt = 0;
  {
    WithOptions o(Schedule::fixed, true);
    EXPECT_TRUE(neighbour_correct(false, ++salt)) << "ascending order hides the race";
    EXPECT_TRUE(neighbour_correct(true, ++salt));
  }
  {
    WithOptions o(Schedule::reverse, true);
    EXPECT_FALSE(neighbour_correct(false, ++salt)) << "reverse order must expose the race";
    EXPECT_TRUE(neighbour_correct(true, ++salt));
  }
  for (uint64_t seed : {1, 2, 3}) {
    WithOptions o(Schedule::random, true, seed);
    EXPECT_FALSE(neighbour_correct(false, ++salt)) << "random order (seed " << seed << ") must expose the race";
    EXPECT_TRUE(neighbour_correct(true, ++salt));
  }
}

TEST(SimtEmulator, DivergentBarrierIsReportedInStrictModeOnly) {
  std::vector<int> out(64, 0);
  {
    WithOptions o(Schedule::fixed, false);
    EXPECT_EQ(launch_error([&] { simt::launch(divergent_barrier_kernel, dim3(1), dim3(64), 0, nullptr, out.data()); }),
              "no error");  // as hardware: exited threads count as arrived
  }
  WithOptions o(Schedule::fixed, true);
  const std::string e =
      launch_error([&] { simt::launch(divergent_barrier_kernel, dim3(1), dim3(64), 0, nullptr, out.data()); });
  EXPECT_NE(e.find("exited"), std::string::npos) << e;
  EXPECT_NE(e.find("__syncthreads /"), std::string::npos) << e;  // names the barrier and its source line
  EXPECT_NE(e.find("test_kernels.cuh:"), std::string::npos) << e;
  const std::string e2 = launch_error([&] { simt::launch(two_sites_kernel, dim3(1), dim3(64), 0, nullptr, out.data()); });
  EXPECT_NE(e2.find("divergent __syncthreads"), std::string::npos) << e2;
}

int expected_shuffle(int t, int k) {
  const int lane = t % 32, base = t - lane, v = 100 + t;
  auto val = [&](int l) { return 100 + base + l; };
  switch (k) {
    case 0: return val(5);
    case 1: return val(lane / 16 * 16 + (lane + 3) % 16);
    case 2: return lane >= 3 ? val(lane - 3) : v;
    case 3: return lane % 8 + 2 < 8 ? val(lane + 2) : v;
    case 4: return val(lane ^ 1);
    case 5: return (lane ^ 8) < lane / 8 * 8 + 8 ? val(lane ^ 8) : v;
    case 6: return lane + 1 < 32 ? val(lane + 1) : v;
    case 7: return val(lane ^ 16);
  }
  return -1;
}

TEST(SimtEmulator, ShuffleSemanticsMatchTheProgrammingGuide) {
  for (Schedule s : {Schedule::fixed, Schedule::reverse, Schedule::random}) {
    WithOptions o(s, true);
    std::vector<int> out(64 * 8, -1);
    simt::launch(shuffle_kernel, dim3(1), dim3(64), 0, nullptr, out.data());
    for (int t = 0; t < 64; ++t)
      for (int k = 0; k < 8; ++k)
        ASSERT_EQ(out[t * 8 + k], expected_shuffle(t, k)) << "thread " << t << " case " << k << " " << simt::schedule_name(s);
  }
}

TEST(SimtEmulator, VotesDisjointMasksAndBarrierReductions) {
  WithOptions o(Schedule::random, true, 7);
  std::vector<int> out(64 * 6, -1);
  simt::launch(vote_kernel, dim3(1), dim3(64), 0, nullptr, out.data());
  unsigned ballot = 0;
  for (int l = 0; l < 32; l += 3) ballot |= 1u << l;
  for (int t = 0; t < 64; ++t) {
    const int lane = t % 32;
    EXPECT_EQ(out[t * 6 + 0], lane < 16 ? 0 : 160) << t;
    EXPECT_EQ(static_cast<unsigned>(out[t * 6 + 1]), ballot) << t;
    EXPECT_EQ(out[t * 6 + 2], 1) << t;
    EXPECT_EQ(out[t * 6 + 3], 0) << t;
    EXPECT_EQ(out[t * 6 + 4], 32) << t;
    EXPECT_EQ(out[t * 6 + 5], 1 + 2) << t;
  }
}

TEST(SimtEmulator, BlockSumWithAtomicsAcrossParallelBlocks) {
  const int n = (1 << 16) + 123, blocks = 64;
  std::vector<float> x(n);
  double want = 0;
  for (int i = 0; i < n; ++i) want += (x[i] = static_cast<float>((i * 37) % 101) / 101.0f - 0.3f);
  for (Schedule s : {Schedule::fixed, Schedule::reverse, Schedule::random}) {
    WithOptions o(s, true);
    std::vector<float> partial(blocks, 0.f);
    float total = 0;
    int count = 0;
    simt::launch(block_sum_kernel, dim3(blocks), dim3(128), 0, nullptr, x.data(), n, partial.data(), &total, &count);
    EXPECT_EQ(count, blocks);
    const double sum_partials = std::accumulate(partial.begin(), partial.end(), 0.0);
    EXPECT_NEAR(sum_partials, want, 1e-3 * std::abs(want)) << simt::schedule_name(s);
    EXPECT_NEAR(total, want, 1e-3 * std::abs(want)) << simt::schedule_name(s);
  }
}

TEST(SimtEmulator, ReadingAnExitedLaneIsPoisonOrAStrictError) {
  std::vector<float> x(64, 1.0f), out(2, 0.f);
  {
    WithOptions o(Schedule::fixed, false);
    simt::launch(early_exit_reduce_kernel, dim3(1), dim3(64), 0, nullptr, x.data(), 40, out.data());
    EXPECT_EQ(out[0], 32.f);        // warp 0 is whole
    EXPECT_TRUE(std::isnan(out[1])) << out[1];  // warp 1 read exited lanes
  }
  WithOptions o(Schedule::fixed, true);
  const std::string e = launch_error(
      [&] { simt::launch(early_exit_reduce_kernel, dim3(1), dim3(64), 0, nullptr, x.data(), 40, out.data()); });
  EXPECT_NE(e.find("reads lane"), std::string::npos) << e;
  EXPECT_NE(e.find("which is exited"), std::string::npos) << e;
}

TEST(SimtEmulator, DynamicSharedMemoryIsPoisonedAndLimited) {
  WithOptions o(Schedule::reverse, true);
  std::vector<float> out(2 * 64, 0.f);
  simt::launch(dynamic_smem_kernel, dim3(1), dim3(64), 64 * sizeof(float), nullptr, out.data());
  for (int t = 0; t < 64; ++t) {
    EXPECT_TRUE(std::isnan(out[t])) << "unwritten dynamic smem must read as poison";
    EXPECT_EQ(out[64 + t], static_cast<float>(63 - t));
  }
  const std::string e = launch_error(
      [&] { simt::launch(dynamic_smem_kernel, dim3(1), dim3(64), 64 * 1024, nullptr, out.data()); });
  EXPECT_NE(e.find("dynamic smem 65536 > 49152"), std::string::npos) << e;
  simt::set_max_dynamic_smem(dynamic_smem_kernel, 64 * 1024);
  EXPECT_EQ(launch_error([&] { simt::launch(dynamic_smem_kernel, dim3(1), dim3(64), 64 * 1024, nullptr, out.data()); }),
            "no error");
}

TEST(SimtEmulator, LaunchValidationDeadlocksAndKernelExceptions) {
  std::vector<int> out(1024, 0);
  EXPECT_NE(launch_error([&] { simt::launch(divergent_barrier_kernel, dim3(1), dim3(2048), 0, nullptr, out.data()); })
                .find("block of 2048 threads"),
            std::string::npos);
  EXPECT_NE(launch_error([&] { simt::launch(divergent_barrier_kernel, dim3(1), dim3(1, 1, 65), 0, nullptr, out.data()); })
                .find("block.z = 65"),
            std::string::npos);
  const std::string d = launch_error([&] { simt::launch(deadlock_kernel, dim3(1), dim3(32), 0, nullptr, out.data()); });
  EXPECT_NE(d.find("deadlock in block (0,0,0)"), std::string::npos) << d;
  EXPECT_NE(d.find("waits at __syncthreads"), std::string::npos) << d;
  EXPECT_NE(d.find("waits at __shfl_sync"), std::string::npos) << d;
  const std::string x = launch_error([&] { simt::launch(throwing_kernel, dim3(2), dim3(32), 0, nullptr, 5); });
  EXPECT_NE(x.find("thread (5,0,0)"), std::string::npos) << x;
  EXPECT_NE(x.find("bad element"), std::string::npos) << x;
  // The emulator is usable again after failed launches.
  std::vector<int> in(1024, 3), o2(1024, 0);
  simt::launch(neighbour_kernel<true>, dim3(4), dim3(256), 0, nullptr, in.data(), o2.data());
  EXPECT_EQ(o2[5], 3);
}

TEST(SimtEmulator, DeviceOnlyHalfAndBf16FunctionsRoundOnce) {
  std::vector<__half> x(32);
  std::vector<__nv_bfloat16> y(32);
  for (int i = 0; i < 32; ++i) {
    x[i] = __float2half_rn(0.25f + 0.0371f * i);
    y[i] = __float2bfloat16_rn(0.5f + 0.173f * i);
  }
  std::vector<float> out(32 * 6);
  simt::launch(half_math_kernel, dim3(1), dim3(32), 0, nullptr, x.data(), y.data(), out.data());
  for (int i = 0; i < 32; ++i) {
    const double a = __half2float(x[i]), b = __bfloat162float(y[i]);
    EXPECT_EQ(out[i * 6 + 0], __half2float(__float2half_rn(static_cast<float>(std::exp(a))))) << i;
    EXPECT_EQ(out[i * 6 + 1], __half2float(__float2half_rn(static_cast<float>(std::sqrt(a))))) << i;
    // a*a + a rounded once to half.
    EXPECT_EQ(out[i * 6 + 2], __half2float(__float2half_rn(static_cast<float>(a * a + a)))) << i;
    EXPECT_EQ(out[i * 6 + 3], __bfloat162float(__float2bfloat16_rn(static_cast<float>(1 / std::sqrt(b))))) << i;
    EXPECT_EQ(out[i * 6 + 4], __bfloat162float(__float2bfloat16_rn(static_cast<float>(b * b + b)))) << i;
    EXPECT_EQ(out[i * 6 + 5], __half2float(x[i ^ 1])) << i;
  }
}

// A vector whose data is 32-byte aligned, as WMMA operands must be.
template <class T>
struct Aligned32 {
  alignas(32) T v[256 * 2];
  T* data() { return v; }
  T& operator[](size_t i) { return v[i]; }
};

TEST(SimtEmulator, WmmaFragmentsComputeATileProduct) {
  Aligned32<__half> a, bt;  // 16 x 32 each; bt holds B column-major: bt[j * 32 + k] = B[k, j]
  for (int i = 0; i < 16 * 32; ++i) {
    a[i] = __float2half_rn(static_cast<float>((i * 7) % 13) / 8 - 0.7f);
    bt[i] = __float2half_rn(static_cast<float>((i * 5) % 11) / 8 - 0.6f);
  }
  Aligned32<float> c;
  for (int i = 0; i < 256; ++i) c[i] = -1;
  WithOptions o(Schedule::random, true, 3);
  simt::launch(wmma_gemm_kernel, dim3(1), dim3(32), 0, nullptr, a.data(), bt.data(), c.data());
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      double want = 0;
      for (int k = 0; k < 32; ++k) want += double(__half2float(a[i * 32 + k])) * __half2float(bt[j * 32 + k]);
      EXPECT_NEAR(c[i * 16 + j], want, 1e-5) << i << "," << j;
    }
  Aligned32<__half> tile;
  for (int i = 0; i < 256; ++i) tile[i] = __float2half_rn(0.f);
  const std::string e = launch_error([&] { simt::launch(wmma_divergent_kernel, dim3(1), dim3(32), 0, nullptr, tile.data()); });
  // Strict mode: lanes 16..31 exited without taking part in the warp-wide load.
  EXPECT_NE(e.find("lane 16 of warp 0 is named in the mask but has exited"), std::string::npos) << e;
  // The hardware's operand rules: a misaligned pointer is a launch error naming the call.
  const std::string m = launch_error(
      [&] { simt::launch(wmma_gemm_kernel, dim3(1), dim3(32), 0, nullptr, a.data() + 1, bt.data(), c.data()); });
  EXPECT_NE(m.find("wmma: pointer not 32-byte aligned"), std::string::npos) << m;
}

}  // namespace
