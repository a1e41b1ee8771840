// Generator: a Philox stream position (seed, offset). Each draw of n values takes the next n values
// of the stream (offset rounded up to a multiple of 4 afterwards, as PyTorch's CUDA generator does),
// so the state is two integers that a checkpoint can save and restore exactly.
#pragma once
#include <cstdint>

namespace ft {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }
  // Reserves n values; returns the offset of the first.
  uint64_t advance(uint64_t n) {
    uint64_t start = offset_;
    offset_ += (n + 3) / 4 * 4;
    return start;
  }

 private:
  uint64_t seed_ = 0;
  uint64_t offset_ = 0;
};

// The process-wide default generator (as torch.manual_seed sets it).
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace ft
