// Philox4x32-10 against the known-answer vectors (curand's stream), and the generators built on it.
#include <gtest/gtest.h>

#include <cmath>

#include "core/ops.h"
#include "kernels/common/philox.h"

namespace ft {
namespace {

using kern::Philox4;
using kern::philox4x32_10;

void expect_block(Philox4 ctr, uint32_t k0, uint32_t k1, std::array<uint32_t, 4> want) {
  Philox4 out = philox4x32_10(ctr, k0, k1);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out.v[i], want[i]) << "word " << i;
}

TEST(Philox, KnownAnswerVectors) {
  expect_block({{0, 0, 0, 0}}, 0, 0, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  expect_block({{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}}, 0xffffffff, 0xffffffff,
               {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  expect_block({{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, 0xa4093822, 0x299f31d0,
               {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST(Philox, MatchesTheCurandStream) {
  const uint32_t want[8] = {0x9ceaf053, 0x77f5493b, 0x12bf50ad, 0x5742b3d7,
                            0xfcdb2127, 0x53ba6cfd, 0x838f5a6e, 0x744e06fb};
  for (uint64_t j = 0; j < 8; ++j) EXPECT_EQ(kern::philox_u32(42, j), want[j]) << j;
}

TEST(Philox, UniformIsInTheHalfOpenUnitInterval) {
  EXPECT_GT(kern::uniform_from_u32(0), 0.0f);
  EXPECT_EQ(kern::uniform_from_u32(0xffffffffu), 1.0f);
}

TEST(Generator, SameSeedSameValuesAndOffsetsAdvanceInFours) {
  Generator a(5), b(5);
  EXPECT_EQ(rand({7}, DType::f32, &a).to_vector<float>(), rand({7}, DType::f32, &b).to_vector<float>());
  EXPECT_EQ(a.offset(), 8u);
  Generator c(5);
  c.set_state(5, 8);
  EXPECT_EQ(rand({3}, DType::f32, &a).to_vector<float>(), rand({3}, DType::f32, &c).to_vector<float>());
  manual_seed(11);
  auto x = randn({4}).to_vector<float>();
  manual_seed(11);
  EXPECT_EQ(randn({4}).to_vector<float>(), x);
}

TEST(Generator, NormalHasUnitMoments) {
  Generator g(123);
  auto v = randn({200000}, DType::f64, &g).to_vector<double>();
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) s += (x - m) * (x - m);
  s /= v.size();
  EXPECT_NEAR(m, 0.0, 0.01);
  EXPECT_NEAR(s, 1.0, 0.01);
}

}  // namespace
}  // namespace ft
