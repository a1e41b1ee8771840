// JPEG decoding through libjpeg-turbo with the settings Pillow uses (integer "slow" IDCT, fancy
// upsampling, RGB output), so the pixels are the ones transformers' image processors see after
// Image.open(path).convert("RGB"): baseline, progressive and arithmetic-coded files; grey replicated;
// CMYK and YCCK files read with Pillow's Adobe convention (inverted CMYK) and converted with Pillow's
// CMYK -> RGB formula. libjpeg's warnings about corrupt data (junk bytes before a marker, a bad
// restart marker) are ignored as Pillow ignores them; a truncated file is an error, as in Pillow.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "io/image.h"

namespace ft::io {

enum class JpegResult {
  ok,
  error,      // `message` says what libjpeg found
  too_large,  // the header's width x height exceeds max_pixels: out.width/height are set, nothing decoded
};

// max_pixels <= 0: no limit.
JpegResult decode_jpeg(const unsigned char* data, size_t size, int64_t max_pixels, Image& out, std::string& message);

}  // namespace ft::io
