// Philox4x32-10, the counter-based generator of curand (curandStatePhilox4_32_10_t), so CPU and CUDA
// code draw identical streams. Value j of the stream (seed, offset) is, with n = offset + j and
// q = n / 4, component n % 4 of Philox(ctr = {lo(q), hi(q), 0, 0}, key = {lo(seed), hi(seed)}): the
// closed form of curand_init(seed, 0, offset) followed by curand() calls. Element i of a tensor
// always takes value i, whatever thread computes it, so masks do not depend on the thread layout.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels/common/strided.h"  // FT_HD

namespace ft::kern {

struct Philox4 {
  uint32_t v[4];
};

FT_HD Philox4 philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(M0) * ctr.v[0];
    uint64_t p1 = static_cast<uint64_t>(M1) * ctr.v[2];
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    ctr = Philox4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += W0;
    k1 += W1;
  }
  return ctr;
}

// The 32-bit value number n (= offset + j) of the stream with this seed.
FT_HD uint32_t philox_u32(uint64_t seed, uint64_t n) {
  uint64_t q = n / 4;
  Philox4 out = philox4x32_10(Philox4{{static_cast<uint32_t>(q), static_cast<uint32_t>(q >> 32), 0, 0}},
                              static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return out.v[n % 4];
}

// curand_uniform: (float)x * 2^-32 + 2^-33, in (0, 1].
FT_HD float uniform_from_u32(uint32_t x) {
  return static_cast<float>(x) * 2.3283064365386963e-10f + 1.1641532182693481e-10f;
}

// curand_normal's Box-Muller on the pair (x, y): returns the first (sin) or second (cos) value.
FT_HD float normal_from_u32_pair(uint32_t x, uint32_t y, bool second) {
  constexpr float kTwoPi = 6.2831853071795864f;
  float u = uniform_from_u32(x);
  float v = static_cast<float>(y) * (2.3283064365386963e-10f * kTwoPi) +
            (2.3283064365386963e-10f * kTwoPi) * 0.5f;
  float s = sqrtf(-2.0f * logf(u));
  return second ? s * cosf(v) : s * sinf(v);
}

}  // namespace ft::kern
