// The SIMT emulator's device side: what a CUDA kernel sees when its .cu file is compiled by g++.
// Each CUDA thread runs as a fiber; a block runs start to finish on one OS thread, so __shared__
// is thread_local storage of that OS thread. Barriers and warp collectives suspend the fiber until
// every participant has arrived (kernels/simt/emu_runtime.cpp). Include kernels/simt/simt.h, not
// this file.
#pragma once

// Qualifiers must be defined before any CUDA header is included (crt/host_defines.h keeps ours).
#define __shared__ thread_local
#define __constant__
#define __managed__
#define __launch_bounds__(...)
#define SIMT_ARCH 900
#define SIMT_EMULATED 1

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <vector_types.h>

#include <cmath>
#include <cstdint>

#include "core/error.h"
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

// Thread coordinates: plain thread-local values, rewritten by the scheduler before each switch-in.
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

namespace simt {

enum class Schedule { fixed, reverse, random };

// Emulator switches. Defaults come from the environment at first use:
//   SIMT_SCHEDULE=fixed|reverse|random, SIMT_SEED=N, SIMT_STRICT=0|1, SIMT_WORKERS=N, SIMT_STACK_KB=N.
struct Options {
  Schedule schedule = Schedule::fixed;
  uint64_t seed = 1;
  bool strict = false;  // divergent barriers and reads of exited lanes are errors, not tolerated
  int workers = 0;      // OS threads running blocks; 0 = hardware concurrency
  size_t stack_kb = 64; // per fiber
};
Options options();
void set_options(const Options& o);
const char* schedule_name(Schedule s);

// A failed launch: invalid configuration, a strict-mode violation, a deadlock or an exception
// thrown by kernel code. The message names the block, thread and source line.
// An ft::Error, so engine code sees kernel failures like any other error.
struct Error : ft::Error {
  using ft::Error::Error;
};

using Stream = void*;  // launches are synchronous in the emulator

namespace detail {
enum class BarrierKind { plain, count, all, any };
enum class WarpOp { shfl_idx, shfl_up, shfl_down, shfl_xor, ballot, any, all, sync };
int barrier(BarrierKind kind, int pred, const char* file, int line);
uint64_t warp_op(WarpOp op, unsigned mask, uint64_t value, int arg, int width, const char* file, int line);
void* dynamic_smem_ptr();
[[noreturn]] void kernel_abort(const std::string& what);
void launch_grid(const void* kernel_id, const char* name, dim3 grid, dim3 block, size_t smem,
                 const std::function<void()>& body);
void register_max_dynamic_smem(const void* kernel_id, size_t bytes);
// Called for every non-null pointer argument of a launch, when installed: the emulated runtime checks
// that it points into a live device allocation (a host pointer passed to a kernel is a launch error).
using PointerCheck = void (*)(const void* p, int arg_index);
void set_pointer_check(PointerCheck check);
PointerCheck pointer_check();
template <class A>
void check_argument(PointerCheck check, const A& a, int index) {
  if constexpr (std::is_pointer_v<A>) {
    if (a) check(static_cast<const void*>(a), index);
  }
}

template <class T>
uint64_t to_bits(const T& v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "warp collectives move at most 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, static_cast<const void*>(&v), sizeof(T));
  return b;
}
template <class T>
T from_bits(uint64_t b) {
  T v;
  std::memcpy(static_cast<void*>(&v), &b, sizeof(T));
  return v;
}
}  // namespace detail

template <class T>
T* dynamic_smem() {
  return static_cast<T*>(detail::dynamic_smem_ptr());
}

// Runs kernel over the grid, each CUDA thread with its own copy of the arguments (converted to the
// kernel's parameter types once, as a real launch does). Throws simt::Error on failure.
template <class... KArgs, class... Args>
void launch(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, Stream, Args&&... args) {
  static_assert(sizeof...(KArgs) == sizeof...(Args), "simt::launch: wrong number of kernel arguments");
  const std::tuple<std::decay_t<KArgs>...> closure(static_cast<std::decay_t<KArgs>>(std::forward<Args>(args))...);
  if (detail::PointerCheck check = detail::pointer_check()) {
    int index = 0;
    std::apply([&](const auto&... a) { (detail::check_argument(check, a, index++), ...); }, closure);
  }
  detail::launch_grid(reinterpret_cast<const void*>(kernel), "kernel", grid, block, smem,
                      [&closure, kernel] { std::apply(kernel, closure); });
}

template <class... KArgs>
void set_max_dynamic_smem(void (*kernel)(KArgs...), size_t bytes) {
  detail::register_max_dynamic_smem(reinterpret_cast<const void*>(kernel), bytes);
}

}  // namespace simt

// ---- block barriers ----
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  simt::detail::barrier(simt::detail::BarrierKind::plain, 0, file, line);
}
inline int __syncthreads_count(int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return simt::detail::barrier(simt::detail::BarrierKind::count, pred, file, line);
}
inline int __syncthreads_and(int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return simt::detail::barrier(simt::detail::BarrierKind::all, pred, file, line);
}
inline int __syncthreads_or(int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return simt::detail::barrier(simt::detail::BarrierKind::any, pred, file, line);
}

// ---- warp collectives (independent thread scheduling: lanes are never assumed in lock-step) ----
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  simt::detail::warp_op(simt::detail::WarpOp::sync, mask, 0, 0, 32, file, line);
}
template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32, const char* file = __builtin_FILE(),
              int line = __builtin_LINE()) {
  return simt::detail::from_bits<T>(simt::detail::warp_op(simt::detail::WarpOp::shfl_idx, mask,
                                                          simt::detail::to_bits(var), src_lane, width, file, line));
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32, const char* file = __builtin_FILE(),
                 int line = __builtin_LINE()) {
  return simt::detail::from_bits<T>(simt::detail::warp_op(simt::detail::WarpOp::shfl_up, mask,
                                                          simt::detail::to_bits(var), static_cast<int>(delta), width,
                                                          file, line));
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32, const char* file = __builtin_FILE(),
                   int line = __builtin_LINE()) {
  return simt::detail::from_bits<T>(simt::detail::warp_op(simt::detail::WarpOp::shfl_down, mask,
                                                          simt::detail::to_bits(var), static_cast<int>(delta), width,
                                                          file, line));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE()) {
  return simt::detail::from_bits<T>(simt::detail::warp_op(simt::detail::WarpOp::shfl_xor, mask,
                                                          simt::detail::to_bits(var), lane_mask, width, file, line));
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<unsigned>(simt::detail::warp_op(simt::detail::WarpOp::ballot, mask, pred != 0, 0, 32, file, line));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<int>(simt::detail::warp_op(simt::detail::WarpOp::any, mask, pred != 0, 0, 32, file, line));
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  return static_cast<int>(simt::detail::warp_op(simt::detail::WarpOp::all, mask, pred != 0, 0, 32, file, line));
}

// ---- memory fences and loads ----
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
template <class T>
T __ldg(const T* p) {
  return *p;
}

// ---- atomics: real atomics, since blocks run in parallel on several OS threads ----
namespace simt::detail {
template <class T, class Bits, class F>
T atomic_update(T* addr, F f) {
  static_assert(sizeof(T) == sizeof(Bits));
  Bits* a = reinterpret_cast<Bits*>(addr);
  Bits old_bits = __atomic_load_n(a, __ATOMIC_RELAXED);
  for (;;) {
    T old_v;
    std::memcpy(static_cast<void*>(&old_v), &old_bits, sizeof(T));
    const T new_v = f(old_v);
    Bits new_bits;
    std::memcpy(&new_bits, static_cast<const void*>(&new_v), sizeof(T));
    if (__atomic_compare_exchange_n(a, &old_bits, new_bits, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return old_v;
  }
}
}  // namespace simt::detail

inline int atomicAdd(int* a, int v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
  return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST);
}
inline float atomicAdd(float* a, float v) {
  return simt::detail::atomic_update<float, uint32_t>(a, [v](float o) { return o + v; });
}
inline double atomicAdd(double* a, double v) {
  return simt::detail::atomic_update<double, uint64_t>(a, [v](double o) { return o + v; });
}
inline __half atomicAdd(__half* a, __half v) {
  return simt::detail::atomic_update<__half, uint16_t>(
      a, [v](__half o) { return __float2half_rn(__half2float(o) + __half2float(v)); });
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* a, __nv_bfloat16 v) {
  return simt::detail::atomic_update<__nv_bfloat16, uint16_t>(
      a, [v](__nv_bfloat16 o) { return __float2bfloat16_rn(__bfloat162float(o) + __bfloat162float(v)); });
}
inline int atomicSub(int* a, int v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicSub(unsigned* a, unsigned v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }
inline int atomicExch(int* a, int v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
inline unsigned atomicExch(unsigned* a, unsigned v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }
inline unsigned long long atomicExch(unsigned long long* a, unsigned long long v) {
  return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST);
}
inline float atomicExch(float* a, float v) {
  return simt::detail::atomic_update<float, uint32_t>(a, [v](float) { return v; });
}
template <class T>
T atomicCAS_impl(T* a, T compare, T val) {
  __atomic_compare_exchange_n(a, &compare, val, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;  // the old value either way
}
inline int atomicCAS(int* a, int c, int v) { return atomicCAS_impl(a, c, v); }
inline unsigned atomicCAS(unsigned* a, unsigned c, unsigned v) { return atomicCAS_impl(a, c, v); }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long c, unsigned long long v) {
  return atomicCAS_impl(a, c, v);
}
inline unsigned short atomicCAS(unsigned short* a, unsigned short c, unsigned short v) { return atomicCAS_impl(a, c, v); }
inline int atomicMax(int* a, int v) {
  return simt::detail::atomic_update<int, int>(a, [v](int o) { return o > v ? o : v; });
}
inline unsigned atomicMax(unsigned* a, unsigned v) {
  return simt::detail::atomic_update<unsigned, unsigned>(a, [v](unsigned o) { return o > v ? o : v; });
}
inline unsigned long long atomicMax(unsigned long long* a, unsigned long long v) {
  using U = unsigned long long;
  return simt::detail::atomic_update<U, U>(a, [v](U o) { return o > v ? o : v; });
}
inline int atomicMin(int* a, int v) {
  return simt::detail::atomic_update<int, int>(a, [v](int o) { return o < v ? o : v; });
}
inline unsigned atomicMin(unsigned* a, unsigned v) {
  return simt::detail::atomic_update<unsigned, unsigned>(a, [v](unsigned o) { return o < v ? o : v; });
}

// ---- half and bf16 functions that the CUDA headers declare for device code only ----
// Computed in float (double for the fused multiply-add, so a*b+c rounds once as the hardware does)
// and rounded to nearest. The device versions of hexp/hlog/hsqrt/hrsqrt are approximations within
// an ulp of these, so compare with tolerances.
namespace simt::detail {
template <class H>
float h2f(H h) {
  if constexpr (std::is_same_v<H, __half>) return __half2float(h);
  else return __bfloat162float(h);
}
template <class H>
H f2h(float f) {
  if constexpr (std::is_same_v<H, __half>) return __float2half_rn(f);
  else return __float2bfloat16_rn(f);
}
template <class H>
H fma_h(H a, H b, H c) {
  return f2h<H>(static_cast<float>(static_cast<double>(h2f(a)) * h2f(b) + h2f(c)));
}
}  // namespace simt::detail

#define SIMT_HALF_UNARY(name, expr)                                                                      \
  inline __half name(__half h) { const float x = __half2float(h); return __float2half_rn(expr); }      \
  inline __nv_bfloat16 name(__nv_bfloat16 h) {                                                         \
    const float x = __bfloat162float(h);                                                               \
    return __float2bfloat16_rn(expr);                                                                  \
  }                                                                                                    \
  inline __half2 h2##name(__half2 h) { return __halves2half2(name(__low2half(h)), name(__high2half(h))); } \
  inline __nv_bfloat162 h2##name(__nv_bfloat162 h) {                                                   \
    return __halves2bfloat162(name(__low2bfloat16(h)), name(__high2bfloat16(h)));                      \
  }
// hexp, hlog, hsqrt, hrsqrt, hrcp and their h2* (two-lane) forms: h2hexp is not a CUDA name, so the
// two-lane versions are spelled out below.
SIMT_HALF_UNARY(hexp, std::exp(x))
SIMT_HALF_UNARY(hlog, std::log(x))
SIMT_HALF_UNARY(hsqrt, std::sqrt(x))
SIMT_HALF_UNARY(hrsqrt, 1.0f / std::sqrt(x))
SIMT_HALF_UNARY(hrcp, 1.0f / x)
#undef SIMT_HALF_UNARY
inline __half2 h2exp(__half2 h) { return h2hexp(h); }
inline __half2 h2log(__half2 h) { return h2hlog(h); }
inline __half2 h2sqrt(__half2 h) { return h2hsqrt(h); }
inline __half2 h2rsqrt(__half2 h) { return h2hrsqrt(h); }
inline __half2 h2rcp(__half2 h) { return h2hrcp(h); }
inline __nv_bfloat162 h2exp(__nv_bfloat162 h) { return h2hexp(h); }
inline __nv_bfloat162 h2log(__nv_bfloat162 h) { return h2hlog(h); }
inline __nv_bfloat162 h2sqrt(__nv_bfloat162 h) { return h2hsqrt(h); }
inline __nv_bfloat162 h2rsqrt(__nv_bfloat162 h) { return h2hrsqrt(h); }
inline __nv_bfloat162 h2rcp(__nv_bfloat162 h) { return h2hrcp(h); }
inline __half __hfma(__half a, __half b, __half c) { return simt::detail::fma_h(a, b, c); }
inline __nv_bfloat16 __hfma(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c) { return simt::detail::fma_h(a, b, c); }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) {
  return __halves2half2(__hfma(__low2half(a), __low2half(b), __low2half(c)),
                        __hfma(__high2half(a), __high2half(b), __high2half(c)));
}
inline __nv_bfloat162 __hfma2(__nv_bfloat162 a, __nv_bfloat162 b, __nv_bfloat162 c) {
  return __halves2bfloat162(__hfma(__low2bfloat16(a), __low2bfloat16(b), __low2bfloat16(c)),
                            __hfma(__high2bfloat16(a), __high2bfloat16(b), __high2bfloat16(c)));
}

// ---- math intrinsics with host twins (the CUDA versions may differ by a few ulp) ----
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float __int_as_float(int i) { return simt::detail::from_bits<float>(static_cast<uint32_t>(i)); }
inline float __uint_as_float(unsigned i) { return simt::detail::from_bits<float>(i); }
inline int __float_as_int(float f) { return static_cast<int>(simt::detail::to_bits(f)); }
inline unsigned __float_as_uint(float f) { return static_cast<unsigned>(simt::detail::to_bits(f)); }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __clz(unsigned x) { return x ? __builtin_clz(x) : 32; }
inline int __ffs(unsigned x) { return __builtin_ffs(static_cast<int>(x)); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline float max(float a, float b) { return std::fmax(a, b); }
#include "kernels/simt/emu_wmma.h"
inline double min(double a, double b) { return std::fmin(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
