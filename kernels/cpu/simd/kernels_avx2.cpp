// The AVX2 + FMA instantiation of the vectorised kernels (built with -mavx2 -mfma -mno-avx512f).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include <immintrin.h>

#include "kernels/cpu/simd/kernels.h"

#define FT_SIMD_WIDTH 8
namespace ft::kern::simd {
namespace {
constexpr Isa kIsa = Isa::avx2;
#include "kernels/cpu/simd/vec.inc"
#include "kernels/cpu/simd/math.inc"
#include "kernels/cpu/simd/kernels_impl.inc"
}  // namespace
const Kernels& kernels_avx2() { return kTable; }
}  // namespace ft::kern::simd
