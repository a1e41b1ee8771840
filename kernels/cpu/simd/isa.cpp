#include "kernels/cpu/simd/isa.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"  // header-only: ft::Error and FT_CHECK

namespace ft::kern::simd {
namespace {

Isa detect() {
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the YMM/ZMM state (XGETBV).
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return avx512 ? Isa::avx512 : avx2 ? Isa::avx2 : Isa::scalar;
}

Isa initial() {
  const Isa best = detect();
  const char* env = std::getenv("FT_CPU_ISA");
  if (!env || !*env) return best;
  const Isa want = parse_isa(env);
  FT_CHECK(static_cast<int>(want) <= static_cast<int>(best), "FT_CPU_ISA=", env, ": this CPU supports at most ",
           isa_name(best));
  return want;
}

Isa& current() {
  static Isa isa = initial();
  return isa;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

Isa detected_isa() {
  static const Isa isa = detect();
  return isa;
}

bool isa_supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(detected_isa()); }

Isa active_isa() { return current(); }

void set_isa(Isa isa) {
  FT_CHECK(isa_supported(isa), "set_isa: this CPU does not support ", isa_name(isa), " (at most ",
           isa_name(detected_isa()), ")");
  current() = isa;
}

Isa parse_isa(const char* name) {
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (std::strcmp(name, isa_name(isa)) == 0) return isa;
  throw Error(cat("unknown CPU ISA '", name, "' (choices: scalar, avx2, avx512)"));
}

}  // namespace ft::kern::simd
