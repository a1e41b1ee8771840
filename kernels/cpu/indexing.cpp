#include "kernels/cpu/indexing.h"

#include <algorithm>
#include <cstring>

#include "kernels/common/philox.h"
#include "kernels/common/strided.h"
#include "kernels/cpu/simd/kernels.h"

namespace ft::kern {

void gather_rows(const void* table, const int64_t* idx, int64_t count, int64_t row_bytes, void* out) {
  const auto* t = static_cast<const uint8_t*>(table);
  auto* o = static_cast<uint8_t*>(out);
#pragma omp parallel for if (count * row_bytes > kParallelGrain)
  for (int64_t i = 0; i < count; ++i)
    std::memcpy(o + i * row_bytes, t + idx[i] * row_bytes, static_cast<size_t>(row_bytes));
}

template <class T>
void scatter_add_rows(const T* src, const int64_t* idx, int64_t count, int64_t width, int64_t skip, T* table) {
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (width + kBlock - 1) / kBlock;
#pragma omp parallel for if (count * width > kParallelGrain)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * kBlock, c1 = std::min(width, c0 + kBlock);
    for (int64_t i = 0; i < count; ++i) {
      if (idx[i] == skip) continue;
      T* dst = table + idx[i] * width;
      const T* s = src + i * width;
      for (int64_t c = c0; c < c1; ++c) dst[c] += s[c];
    }
  }
}

void philox_uniform(uint64_t seed, uint64_t offset, int64_t n, float* out) {
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = uniform_from_u32(philox_u32(seed, offset + static_cast<uint64_t>(i)));
}

void philox_normal(uint64_t seed, uint64_t offset, int64_t n, float* out) {
  // Values come in Box-Muller pairs (2j, 2j+1) drawn from stream values (offset+2j, offset+2j+1).
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t pair = offset + static_cast<uint64_t>(i & ~int64_t(1));
    out[i] = normal_from_u32_pair(philox_u32(seed, pair), philox_u32(seed, pair + 1), i & 1);
  }
}

void dropout_mask(uint64_t seed, uint64_t offset, double p, int64_t n, uint8_t* keep) {
  simd::kernels().dropout_mask(seed, offset, static_cast<float>(p), n, keep);
}

void dropout_mask_reference(uint64_t seed, uint64_t offset, double p, int64_t n, uint8_t* keep) {
  const float pf = static_cast<float>(p);
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    keep[i] = uniform_from_u32(philox_u32(seed, offset + static_cast<uint64_t>(i))) > pf;
}

template <class T>
void apply_mask(const T* x, const uint8_t* keep, double scale, int64_t n, T* out) {
  const T s = static_cast<T>(scale);
#pragma omp parallel for simd if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) out[i] = keep[i] ? x[i] * s : T(0);
}

#define FT_INSTANTIATE(T)                                                                      \
  template void scatter_add_rows<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, T*); \
  template void apply_mask<T>(const T*, const uint8_t*, double, int64_t, T*);
FT_INSTANTIATE(float)
FT_INSTANTIATE(double)
#undef FT_INSTANTIATE

}  // namespace ft::kern
