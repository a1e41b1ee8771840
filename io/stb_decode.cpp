#include "io/stb_decode.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {

// The budget of the decode running on this thread (loader workers decode in parallel).
thread_local size_t t_budget_left = 0;
thread_local bool t_over_budget = false;

// Each block carries its size in front, so frees and reallocations give it back to the budget.
constexpr size_t kHeader = 16;

void* budget_malloc(size_t n) {
  if (n > t_budget_left) {
    t_over_budget = true;
    return nullptr;
  }
  auto* b = static_cast<unsigned char*>(std::malloc(n + kHeader));
  if (!b) return nullptr;
  std::memcpy(b, &n, sizeof(n));
  t_budget_left -= n;
  return b + kHeader;
}

void budget_free(void* p) {
  if (!p) return;
  unsigned char* b = static_cast<unsigned char*>(p) - kHeader;
  size_t n;
  std::memcpy(&n, b, sizeof(n));
  t_budget_left += n;
  std::free(b);
}

void* budget_realloc(void* p, size_t n) {
  if (!p) return budget_malloc(n);
  unsigned char* b = static_cast<unsigned char*>(p) - kHeader;
  size_t old;
  std::memcpy(&old, b, sizeof(old));
  if (n > old && n - old > t_budget_left) {
    t_over_budget = true;
    return nullptr;
  }
  auto* q = static_cast<unsigned char*>(std::realloc(b, n + kHeader));
  if (!q) return nullptr;
  t_budget_left = t_budget_left + old - n;
  std::memcpy(q, &n, sizeof(n));
  return q + kHeader;
}

}  // namespace

// stb_image with static linkage, PNG and BMP only (JPEG is libjpeg-turbo's, io/jpeg.cpp), no stdio.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_BMP
#define STBI_NO_STDIO
#define STBI_MALLOC(n) budget_malloc(n)
#define STBI_REALLOC(p, n) budget_realloc(p, n)
#define STBI_FREE(p) budget_free(p)
// stb_image's own code is not held to this project's warning flags; the suppression stays on to the
// end of the file because GCC reports its -Wmaybe-uninitialized false positives where stb_image is
// inlined into the two functions below.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#include <stb_image.h>

namespace ft::io {

bool stb_dimensions(const unsigned char* data, size_t size, int64_t* width, int64_t* height) {
  int w = 0, h = 0, c = 0;
  t_budget_left = 1 << 20;  // the header parsers allocate little
  if (size > static_cast<size_t>(INT32_MAX) || !stbi_info_from_memory(data, static_cast<int>(size), &w, &h, &c))
    return false;
  // A top-down BMP stores its height negated (and stb_image's info reports it so): the size is |h|.
  *width = std::abs(static_cast<int64_t>(w)), *height = std::abs(static_cast<int64_t>(h));
  return *width > 0 && *height > 0;
}

bool stb_decode(const unsigned char* data, size_t size, size_t budget, Image& out, std::string& message,
                bool& over_budget) {
  t_budget_left = budget;
  t_over_budget = false;
  int w = 0, h = 0, c = 0;
  unsigned char* px =
      size > static_cast<size_t>(INT32_MAX) ? nullptr : stbi_load_from_memory(data, static_cast<int>(size), &w, &h, &c, 3);
  over_budget = t_over_budget;
  if (!px) {
    message = stbi_failure_reason() ? stbi_failure_reason() : "unknown error";
    return false;
  }
  out.height = h, out.width = w, out.channels = 3;
  out.pixels.assign(px, px + static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
  stbi_image_free(px);
  return true;
}

}  // namespace ft::io
