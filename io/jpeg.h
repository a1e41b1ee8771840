// JPEG decoding through libjpeg-turbo with the settings Pillow uses (integer "slow" IDCT, fancy
// upsampling, RGB output), so the pixels are the ones transformers' image processors see; stb_image's
// decoder differs from libjpeg by a few levels on many pixels. Corrupt data (libjpeg's warnings,
// which Pillow reports as a truncated or broken file) is an error.
#pragma once
#include <cstddef>
#include <string>

#include "io/image.h"

namespace ft::io {

enum class JpegResult { ok, unsupported, error };

// `unsupported`: a colour space this path does not convert (CMYK, YCCK); the caller may decode
// another way. `error`: `message` says what libjpeg found.
JpegResult decode_jpeg(const unsigned char* data, size_t size, Image& out, std::string& message);

}  // namespace ft::io
