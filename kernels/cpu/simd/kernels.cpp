#include "kernels/cpu/simd/kernels.h"

#include "core/error.h"
#include "kernels/common/philox.h"

namespace ft::kern::simd {

const Kernels& kernels_scalar();
const Kernels& kernels_avx2();
const Kernels& kernels_avx512();

const Kernels& kernels_for(Isa isa) {
  FT_CHECK(isa_supported(isa), "CPU kernels for ", isa_name(isa), " requested on a CPU without it");
  switch (isa) {
    case Isa::avx512: return kernels_avx512();
    case Isa::avx2: return kernels_avx2();
    default: return kernels_scalar();
  }
}

uint64_t keep_threshold(float p) {
  // uniform_from_u32 is non-decreasing in x, so the kept values are those from the first x whose
  // uniform exceeds p: found by bisection on the exact function the scalar mask uses.
  uint64_t lo = 0, hi = uint64_t(1) << 32;  // answer in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    if (uniform_from_u32(static_cast<uint32_t>(mid)) > p) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

}  // namespace ft::kern::simd
