// The AVX-512 (F, BW, DQ, VL) instantiation of the vectorised kernels.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include <immintrin.h>

#include "kernels/cpu/simd/kernels.h"

#define FT_SIMD_WIDTH 16
namespace ft::kern::simd {
namespace {
constexpr Isa kIsa = Isa::avx512;
#include "kernels/cpu/simd/vec.inc"
#include "kernels/cpu/simd/math.inc"
#include "kernels/cpu/simd/kernels_impl.inc"
}  // namespace
const Kernels& kernels_avx512() { return kTable; }
}  // namespace ft::kern::simd
