// All-reduce bandwidth of the process group's collectives, as nccl-tests reports it: run under
// `mpirun -np N`. For each size (f32, in place): the time of one all-reduce (median of the
// repetitions, after warm-up), algbw = bytes / time and busbw = algbw * 2 (N - 1) / N, the bandwidth
// each link must carry in a ring all-reduce (nccl-tests' definition, comparable across N).
//   mpirun -np 2 build/bench/ft_bench_allreduce [--device cpu|cuda] [--max_mb 64]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/dist/dist.h"
#include "core/tensor.h"
#if defined(FT_BENCH_CUDA)
#include "core/cuda/cuda_backend.h"
#include "kernels/cuda/runtime.h"
#endif

int main(int argc, char** argv) {
  ft::dist::init();
  ft::dist::Group& g = ft::dist::world();
  std::string dev = "cpu";
  double max_mb = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--device")) dev = argv[i + 1];
    if (!std::strcmp(argv[i], "--max_mb")) max_mb = std::atof(argv[i + 1]);
  }
  ft::Device d = ft::kCPU;
#if defined(FT_BENCH_CUDA)
  if (dev == "cuda") {
    ft::install_cuda_backend();
    ft::use_cuda_device(g.local_rank());
    d = ft::Device(ft::DeviceType::cuda, g.local_rank());
  }
#endif
  ft::dist::Communicator& comm = g.communicator(d);
  if (g.rank() == 0)
    std::printf("# all-reduce, %d ranks, %s (%s), f32 sum in place\n# %12s %10s %12s %12s\n", g.size(), d.str().c_str(),
                comm.name(), "bytes", "time_us", "algbw_GB/s", "busbw_GB/s");
  for (int64_t bytes = 1 << 10; bytes <= static_cast<int64_t>(max_mb * (1 << 20)); bytes *= 4) {
    ft::Tensor t = ft::ones({bytes / 4}, ft::TensorOptions(ft::DType::f32).with_device(d));
    const int reps = bytes <= (1 << 20) ? 50 : 10;
    std::vector<double> us;
    for (int r = 0; r < reps + 3; ++r) {
      g.barrier();
      const auto t0 = std::chrono::steady_clock::now();
      comm.all_reduce(t, ft::dist::ReduceOp::sum);
#if defined(FT_BENCH_CUDA)
      if (d.is_cuda()) ft::cuda::synchronize();
#endif
      double e = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      g.all_reduce(&e, 1, ft::dist::ReduceOp::max);  // the slowest rank's time
      if (r >= 3) us.push_back(e);
    }
    std::sort(us.begin(), us.end());
    const double med = us[us.size() / 2];
    const double algbw = static_cast<double>(bytes) / (med * 1e3);  // GB/s
    const double busbw = algbw * 2.0 * (g.size() - 1) / g.size();
    if (g.rank() == 0) std::printf("  %12lld %10.1f %12.3f %12.3f\n", static_cast<long long>(bytes), med, algbw, busbw);
  }
  ft::dist::finalize();
  return 0;
}
