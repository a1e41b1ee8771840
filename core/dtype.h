// Element types of a Tensor. Floating types compute on the CPU in f32 (fast path) and f64 (reference);
// bf16 and f16 are storage types that convert to and from f32 with round-to-nearest-even.
#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>

namespace ft {

enum class DType : uint8_t { f32, f64, bf16, f16, i64, i32, boolean };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "f32", "bf16", ...
bool is_floating(DType t);
bool is_integral(DType t);  // i64, i32, bool
inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

// Maps a C++ type to its DType.
template <class T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::f64; };
template <> struct DTypeOf<int64_t> { static constexpr DType value = DType::i64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::i32; };
template <> struct DTypeOf<bool> { static constexpr DType value = DType::boolean; };

}  // namespace ft
