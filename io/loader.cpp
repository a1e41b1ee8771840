#include "io/loader.h"

#include <algorithm>

#include "kernels/common/philox.h"

namespace ft::io {

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (!shuffle) return order;
  // Sort by a Philox draw per (epoch, index): a uniform permutation that any run can recompute.
  std::vector<std::pair<uint64_t, int64_t>> keys(static_cast<size_t>(n));
  const uint64_t base = static_cast<uint64_t>(epoch) * 2 * static_cast<uint64_t>(n);
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t hi = kern::philox_u32(seed, base + 2 * static_cast<uint64_t>(i));
    const uint64_t lo = kern::philox_u32(seed, base + 2 * static_cast<uint64_t>(i) + 1);
    keys[i] = {(hi << 32) | lo, i};
  }
  std::sort(keys.begin(), keys.end());
  for (int64_t i = 0; i < n; ++i) order[i] = keys[i].second;
  return order;
}

std::vector<int64_t> length_grouped_order(const std::vector<int64_t>& lengths, int64_t batch_size, uint64_t seed,
                                          int64_t epoch) {
  std::vector<int64_t> order = epoch_order(static_cast<int64_t>(lengths.size()), seed, epoch, true);
  const size_t mega = static_cast<size_t>(50 * batch_size);
  for (size_t begin = 0; begin < order.size(); begin += mega) {
    auto first = order.begin() + static_cast<std::ptrdiff_t>(begin);
    auto last = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), begin + mega));
    std::stable_sort(first, last, [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  }
  return order;
}

}  // namespace ft::io
