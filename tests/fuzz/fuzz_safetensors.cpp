// libFuzzer target: the safetensors header parser and validator on arbitrary bytes. Any input must
// either parse or raise ft::Error; crashes, hangs and sanitizer reports are failures.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const ft::io::SafetensorsLayout layout = ft::io::parse_safetensors(data, size, "fuzz");
    for (const ft::io::TensorInfo& t : layout.tensors)
      if (t.end > size) __builtin_trap();  // a validated layout must lie inside the input
  } catch (const ft::Error&) {
  }
  return 0;
}
