// Element conversion for copies between dtypes, one definition for the CPU and CUDA kernels, so both
// give the same bits: float <-> bf16/f16 round to nearest even (through f32), float -> int
// truncates toward zero, anything -> bool is x != 0, integer <-> integer never passes through a
// float (exact for all of int64).
#pragma once
#include <cstring>

#include "kernels/common/half.h"
#include "kernels/common/strided.h"

namespace ft::kern {

FT_HD int elem_bytes(Elem t) {
  switch (t) {
    case Elem::f64: case Elem::i64: return 8;
    case Elem::f32: case Elem::i32: return 4;
    case Elem::bf16: case Elem::f16: return 2;
    case Elem::u8: return 1;
  }
  return 1;
}

FT_HD bool elem_is_int(Elem t) { return t == Elem::i64 || t == Elem::i32 || t == Elem::u8; }

FT_HD double load_as_double(const void* p, Elem t) {
  switch (t) {
    case Elem::f32: { float v; memcpy(&v, p, 4); return v; }
    case Elem::f64: { double v; memcpy(&v, p, 8); return v; }
    case Elem::bf16: { uint16_t v; memcpy(&v, p, 2); return bf16_to_f32(v); }
    case Elem::f16: { uint16_t v; memcpy(&v, p, 2); return f16_to_f32(v); }
    case Elem::i64: { int64_t v; memcpy(&v, p, 8); return static_cast<double>(v); }
    case Elem::i32: { int32_t v; memcpy(&v, p, 4); return v; }
    case Elem::u8: return *static_cast<const uint8_t*>(p);
  }
  return 0;
}

FT_HD int64_t load_as_int(const void* p, Elem t) {
  if (t == Elem::i64) { int64_t v; memcpy(&v, p, 8); return v; }
  if (t == Elem::i32) { int32_t v; memcpy(&v, p, 4); return v; }
  return *static_cast<const uint8_t*>(p);
}

FT_HD void store_double(void* p, Elem t, double v) {
  switch (t) {
    case Elem::f32: { float f = static_cast<float>(v); memcpy(p, &f, 4); return; }
    case Elem::f64: memcpy(p, &v, 8); return;
    case Elem::bf16: { uint16_t h = f32_to_bf16(static_cast<float>(v)); memcpy(p, &h, 2); return; }
    case Elem::f16: { uint16_t h = f32_to_f16(static_cast<float>(v)); memcpy(p, &h, 2); return; }
    case Elem::i64: { int64_t i = static_cast<int64_t>(v); memcpy(p, &i, 8); return; }
    case Elem::i32: { int32_t i = static_cast<int32_t>(v); memcpy(p, &i, 4); return; }
    case Elem::u8: *static_cast<uint8_t*>(p) = v != 0; return;
  }
}

FT_HD void store_int(void* p, Elem t, int64_t v) {
  if (t == Elem::i64) memcpy(p, &v, 8);
  else if (t == Elem::i32) { int32_t w = static_cast<int32_t>(v); memcpy(p, &w, 4); }
  else *static_cast<uint8_t*>(p) = v != 0;
}

// One element from src (type st) to dst (type dt).
FT_HD void convert_one(const void* src, Elem st, void* dst, Elem dt) {
  if (st == dt) memcpy(dst, src, static_cast<size_t>(elem_bytes(st)));
  else if (elem_is_int(st) && elem_is_int(dt)) store_int(dst, dt, load_as_int(src, st));
  else store_double(dst, dt, load_as_double(src, st));
}

}  // namespace ft::kern
