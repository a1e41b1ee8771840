// Helpers shared by tests: where the fetched data lives, the relative error used by goldens, and the
// message of the ft::Error a call throws.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <functional>
#include <map>
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

// A gradient against a golden fixture's f64 truth fx["grad." + name]: within 1e-5 relative, or twice
// PyTorch's own f32 error (fx["grad32." + name]) where the problem's conditioning makes that larger.
// Returns the relative error.
inline double expect_golden_gradient(const std::map<std::string, Tensor>& fx, const std::string& name, const Tensor& got) {
  const Tensor& want = fx.at("grad." + name);
  const double torch_f32 = rel_error(fx.at("grad32." + name), want), e = rel_error(got, want);
  EXPECT_LE(e, std::max(1e-5, 2 * torch_f32)) << "grad." << name << " (PyTorch f32: " << torch_f32 << ")";
  return e;
}

// The number of gradients a golden fixture holds (its grad.* tensors).
inline size_t golden_gradient_count(const std::map<std::string, Tensor>& fx) {
  size_t n = 0;
  for (auto& [name, t] : fx) n += name.rfind("grad.", 0) == 0;
  return n;
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
