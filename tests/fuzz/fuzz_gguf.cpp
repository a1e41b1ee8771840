// libFuzzer target: the GGUF parser and validator (io/gguf.h) on arbitrary bytes, and dequantisation
// of every tensor it accepts. Any input must either parse or raise ft::Error; crashes, hangs and
// sanitizer reports are failures.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const ft::io::GgufLayout layout = ft::io::parse_gguf(data, size, "fuzz");
    for (const ft::io::GgufTensorInfo& t : layout.tensors) {
      if (layout.data_offset + t.offset + t.nbytes > size) __builtin_trap();  // validated extents lie inside
      if (!ft::io::ggml_type_supported(t.type) || t.numel() > (1 << 20)) continue;
      std::vector<float> out(static_cast<size_t>(t.numel()));
      ft::io::dequantize_ggml(t.type, data + layout.data_offset + t.offset, out.data(), t.numel());
    }
  } catch (const ft::Error&) {
  }
  return 0;
}
