// Row gathers and deterministic scatter-adds (embedding, index_select), random fills and dropout.
#pragma once
#include <cstdint>

namespace ft::kern {

// out[i, :] = table[idx[i], :] for i < count; rows are `row_bytes` long (any element type).
// Indices are checked by core.
void gather_rows(const void* table, const int64_t* idx, int64_t count, int64_t row_bytes, void* out);
// table[idx[i], :] += src[i, :] for i in order, skipping idx == skip (use -1 for none). Columns are
// split between threads, rows always added in index order: the result is bitwise deterministic.
template <class T>
void scatter_add_rows(const T* src, const int64_t* idx, int64_t count, int64_t width, int64_t skip, T* table);

// Uniform (0, 1] or standard normal values number offset.. of the Philox stream `seed`, as f32.
void philox_uniform(uint64_t seed, uint64_t offset, int64_t n, float* out);
void philox_normal(uint64_t seed, uint64_t offset, int64_t n, float* out);
// keep[i] = uniform value (offset + i) > p, as curand-based dropout draws it: the vectorised
// kernel (several Philox counters per instruction), and the reference (one Philox call per value).
void dropout_mask(uint64_t seed, uint64_t offset, double p, int64_t n, uint8_t* keep);
void dropout_mask_reference(uint64_t seed, uint64_t offset, double p, int64_t n, uint8_t* keep);
// out = x * keep * scale.
template <class T>
void apply_mask(const T* x, const uint8_t* keep, double scale, int64_t n, T* out);

}  // namespace ft::kern
