// PNG and BMP decoding through stb_image (Debian's libstb-dev header), compiled into this one file
// with every allocation drawn from a per-decode budget. A PNG's zlib stream can inflate to far more
// than its header's size needs (a small file claiming 64x64 pixels can expand to gigabytes), and
// stb_image grows its buffer as long as data comes; with the budget the decode fails instead.
#pragma once
#include <cstddef>
#include <string>

#include "io/image.h"

namespace ft::io {

// The header's size, without decoding; false when stb_image does not recognise the file.
bool stb_dimensions(const unsigned char* data, size_t size, int64_t* width, int64_t* height);

// 8-bit RGB pixels (alpha dropped, grey replicated, 16-bit channels reduced to their high byte).
// False with `message` set on failure; `over_budget` tells that the budget (bytes) ran out.
bool stb_decode(const unsigned char* data, size_t size, size_t budget, Image& out, std::string& message,
                bool& over_budget);

}  // namespace ft::io
