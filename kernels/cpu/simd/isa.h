// Runtime CPU-feature dispatch for the vectorised f32 kernels (kernels/cpu/simd/). Every kernel of
// the table in kernels.h exists three times, compiled from one template: scalar (the reference),
// AVX2+FMA and AVX-512. All three give the same bits for elementwise kernels (the same IEEE
// operations in the same order; tails run the scalar instantiation). The widest ISA this CPU has is
// used unless FT_CPU_ISA (scalar, avx2, avx512) asks for a narrower one; tests switch with set_isa.
#pragma once

namespace ft::kern::simd {

enum class Isa { scalar, avx2, avx512 };

const char* isa_name(Isa isa);
// The widest ISA the CPU and the OS support (AVX-512: F, BW, DQ, VL with ZMM state enabled).
Isa detected_isa();
bool isa_supported(Isa isa);
// The ISA the kernels use now.
Isa active_isa();
// Throws ft::Error when this CPU lacks `isa`. Not thread-safe against running kernels.
void set_isa(Isa isa);
// "scalar", "avx2" or "avx512"; throws ft::Error naming the choices otherwise.
Isa parse_isa(const char* name);

}  // namespace ft::kern::simd
