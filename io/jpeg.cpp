#include "io/jpeg.h"

#include <csetjmp>
#include <cstdio>
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>

namespace ft::io {
namespace {

// A progressive file with thousands of scans costs minutes to decode; real ones have about ten.
// (libjpeg-turbo's djpeg offers the same guard as -maxscans.)
constexpr int kMaxScans = 1000;
constexpr const char* kTruncated = "the file is truncated (the data ends before the image does)";

struct ErrorManager {
  jpeg_error_mgr pub;
  jpeg_progress_mgr progress;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

// libjpeg's default error handler ends the process: jump back to decode_jpeg instead.
extern "C" void on_error(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// Warnings (level -1) are what Pillow ignores, except the end of the data arriving before the
// image's: Pillow's reader then reports the file as truncated.
extern "C" void on_message(j_common_ptr cinfo, int level) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = true;
}

extern "C" void on_progress(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<ErrorManager*>(cinfo->err);
  if (cinfo->is_decompressor && reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number > kMaxScans) {
    std::snprintf(e->message, sizeof(e->message), "more than %d progressive scans", kMaxScans);
    std::longjmp(e->jump, 1);
  }
}

// Pillow's ImagingConvert CMYK -> RGB: each channel is (255 - K) minus C scaled by (255 - K) / 255,
// rounded as its MULDIV255 rounds; the CMYK values are the inverted ones of Adobe's files.
inline unsigned char cmyk_channel(int c, int nk) {
  const int t = c * nk + 128;
  const int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<unsigned char>(v < 0 ? 0 : v > 255 ? 255 : v);
}

}  // namespace

// No object with a destructor lives in this frame between setjmp and a longjmp out of libjpeg.
JpegResult decode_jpeg(const unsigned char* data, size_t size, int64_t max_pixels, Image& out, std::string& message) {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  std::memset(&err, 0, sizeof(err));
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    // libjpeg pads a short file with an end marker, and what it then finds (a bad marker, a bad
    // component id) is only a consequence: the cause is the missing data.
    message = err.truncated ? kTruncated : err.message;
    return JpegResult::error;
  }
  jpeg_create_decompress(&cinfo);
  err.progress.progress_monitor = on_progress;
  cinfo.progress = &err.progress;
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  out.height = cinfo.image_height;
  out.width = cinfo.image_width;
  out.channels = 3;
  if (max_pixels > 0 && out.height * out.width > max_pixels) {
    jpeg_destroy_decompress(&cinfo);
    return JpegResult::too_large;
  }
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&cinfo);
  out.height = cinfo.output_height;
  out.width = cinfo.output_width;
  out.pixels.resize(static_cast<size_t>(out.height * out.width * 3));
  JSAMPARRAY cmyk_row =
      cmyk ? (*cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo), JPOOL_IMAGE, cinfo.output_width * 4, 1)
           : nullptr;
  while (cinfo.output_scanline < cinfo.output_height && !err.truncated) {
    unsigned char* rgb = out.pixels.data() + static_cast<size_t>(cinfo.output_scanline) * out.width * 3;
    if (!cmyk) {
      JSAMPROW row = rgb;
      jpeg_read_scanlines(&cinfo, &row, 1);
      continue;
    }
    jpeg_read_scanlines(&cinfo, cmyk_row, 1);
    for (int64_t x = 0; x < out.width; ++x) {
      const unsigned char* p = cmyk_row[0] + 4 * x;
      const int nk = p[3];  // 255 - K of the inverted value 255 - p[3]
      for (int ch = 0; ch < 3; ++ch) rgb[3 * x + ch] = cmyk_channel(255 - p[ch], nk);
    }
  }
  if (!err.truncated) jpeg_finish_decompress(&cinfo);  // reads up to the end marker, which may be missing
  jpeg_destroy_decompress(&cinfo);
  if (err.truncated) {
    message = kTruncated;
    return JpegResult::error;
  }
  return JpegResult::ok;
}

}  // namespace ft::io
