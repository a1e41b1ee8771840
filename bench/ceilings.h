// This machine's measured ceilings, the denominators of every "fraction of peak" in bench/:
// FP32 FMA throughput of a register-only loop (one thread and all threads) and large-buffer copy
// bandwidth (read + write bytes). Measured once per process.
#pragma once

namespace ft::bench {

struct Ceilings {
  double fma_gflops_1t;   // one thread
  double fma_gflops_all;  // every OpenMP thread
  double copy_gbs;        // all threads, read + write bytes per second
};

const Ceilings& ceilings();

}  // namespace ft::bench
