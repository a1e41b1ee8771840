// The one oneDNN CPU engine of the process (GEMM and convolution). FT_CPU_ISA=avx2 or scalar, which
// narrows our own kernels (kernels/cpu/simd/isa.h), caps oneDNN's kernels too (at AVX2, or SSE4.1
// for scalar), before any primitive is made: so the test reruns of tools/test.sh cover what a CPU
// without AVX-512, AVX512-BF16 and AMX runs, bf16 GEMMs included (their f32 widening path).
#pragma once
#include <dnnl.hpp>

namespace ft::kern {

dnnl::engine& onednn_engine();

}  // namespace ft::kern
