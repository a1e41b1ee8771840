#include "kernels/cpu/onednn_engine.h"

#include <cstdlib>
#include <cstring>

namespace ft::kern {

dnnl::engine& onednn_engine() {
  static dnnl::engine e = [] {
    const char* isa = std::getenv("FT_CPU_ISA");
    if (isa && std::strcmp(isa, "avx2") == 0) dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx2);
    if (isa && std::strcmp(isa, "scalar") == 0) dnnl::set_max_cpu_isa(dnnl::cpu_isa::sse41);
    return dnnl::engine(dnnl::engine::kind::cpu, 0);
  }();
  return e;
}

}  // namespace ft::kern
