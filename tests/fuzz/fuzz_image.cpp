// libFuzzer target: image decoding (JPEG through libjpeg-turbo, PNG and BMP through the budgeted
// stb_image) on arbitrary bytes, under a pixel limit of 2^20. Any input must decode or raise
// ft::Error; a decoded image must have the pixels its size says and stay within the limit.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "io/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxPixels = int64_t{1} << 20;
  try {
    const ft::io::Image img = ft::io::decode_image(data, size, "fuzz", kMaxPixels);
    if (img.height * img.width > kMaxPixels ||
        img.pixels.size() != static_cast<size_t>(img.height * img.width * img.channels) || img.channels != 3)
      __builtin_trap();
  } catch (const ft::Error&) {
  }
  return 0;
}
