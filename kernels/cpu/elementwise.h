// Elementwise kernels: unary, binary (broadcast through zero strides), where, comparisons, and the
// pointwise pieces of backward formulas. Output is contiguous with the inputs' common shape.
#pragma once
#include <cstdint>

#include "kernels/common/ops.h"
#include "kernels/common/strided.h"

namespace ft::kern {

template <class T>
void unary(UnaryOp op, double a, double b, const T* x, const Strided& xv, T* out);
template <class T>
void binary(BinaryOp op, double a, double b, const T* x, const Strided& xv, const T* y,
            const Strided& yv, T* out);
// out = cond ? x : y; cond holds bytes 0/1.
template <class T>
void where(const uint8_t* cond, const Strided& cv, const T* x, const Strided& xv, const T* y,
           const Strided& yv, T* out);

// y = gelu(x + bias[col]) and dx = g * gelu'(x + bias[col]) over contiguous [rows, n] (bias may
// be null): the fused bias + GELU after BERT's intermediate dense layer. f32 runs the vectorised
// kernels (kernels/cpu/simd), f64 these loops over kernels/common/ops.h's functions.
template <class T>
void bias_gelu_fwd(bool exact, const T* x, const T* bias, int64_t rows, int64_t n, T* y);
template <class T>
void bias_gelu_bwd(bool exact, const T* g, const T* x, const T* bias, int64_t rows, int64_t n, T* dx);

// Strided copy with element conversion (float <-> bf16/f16 round to nearest even; float -> int
// truncates toward zero; anything -> u8 is x != 0). dst may be strided.
void copy_cast(const void* src, Elem src_type, const Strided& sv, void* dst, Elem dst_type,
               const Strided& dv);
void fill(void* dst, Elem type, const Strided& dv, double value);

}  // namespace ft::kern
