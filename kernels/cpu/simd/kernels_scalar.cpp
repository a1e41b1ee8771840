// The scalar instantiation of the vectorised kernels: the reference the SIMD widths must match.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "kernels/cpu/simd/kernels.h"

#define FT_SIMD_WIDTH 1
namespace ft::kern::simd {
namespace {
constexpr Isa kIsa = Isa::scalar;
#include "kernels/cpu/simd/vec.inc"
#include "kernels/cpu/simd/math.inc"
#include "kernels/cpu/simd/kernels_impl.inc"
}  // namespace
const Kernels& kernels_scalar() { return kTable; }
}  // namespace ft::kern::simd
