// Helpers shared by tests: where the fetched data lives, the relative error used by goldens, and the
// message of the ft::Error a call throws.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace ft::test {

// tools/fetch_data.sh's cache: $FT_DATA_DIR or ~/.cache/ftrain/data.
inline std::string data_dir() {
  const char* d = std::getenv("FT_DATA_DIR");
  return d ? d : std::string(std::getenv("HOME")) + "/.cache/ftrain/data";
}

// FNV-1a over token ids as 4-byte little-endian integers (the tokenizer parity fixtures' row hash).
inline uint64_t fnv1a64(const std::vector<int64_t>& ids) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (int64_t id : ids) {
    const uint32_t v = static_cast<uint32_t>(static_cast<int32_t>(id));
    for (int b = 0; b < 4; ++b) h = (h ^ ((v >> (8 * b)) & 0xFF)) * 0x100000001B3ull;
  }
  return h;
}

// max |got - want| / max |want| over the tensor (max |got - want| when want is all zeros).
inline double rel_error(const Tensor& got, const Tensor& want) {
  const auto g = got.to_vector<double>(), w = want.to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    diff = std::max(diff, std::abs(g[i] - w[i]));
    scale = std::max(scale, std::abs(w[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

// The message of the ft::Error that f throws, or "no error".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace ft::test
