// libFuzzer target: ftrain serve's request decoding (tools/ftrain/serve_api.cpp) on arbitrary bytes
// (the first byte picks a text or an image model). Any body must decode or be refused with a 400
// naming why, never crash; a decoded request has at least one input, pairs only for text models, and
// its answer and error bodies serialise.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tools/ftrain/serve_api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool images = data[0] & 1;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  ft::cli::PredictRequest r;
  ft::cli::ApiError e;
  if (ft::cli::parse_predict_json(body, images, r, e)) {
    if (r.inputs.empty()) __builtin_trap();
    for (const ft::cli::RawInput& in : r.inputs)
      if ((images && (in.has_pair || in.image.empty())) || (!images && !in.image.empty())) __builtin_trap();
  } else {
    if (e.status != 400 || e.message.empty()) __builtin_trap();
    (void)ft::cli::error_json(e);
  }
  std::string decoded;
  (void)ft::cli::base64_decode(body, decoded);
  return 0;
}
