// libFuzzer target: the CSV/TSV reader on arbitrary bytes (first byte picks the delimiter and the
// skip flag). Any input must parse or raise ft::Error; every row must have the header's width.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "io/csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ft::io::DelimitedOptions o;
  o.delimiter = (data[0] & 1) ? '\t' : ',';
  o.skip_malformed = data[0] & 2;
  o.header_rows = 1 + ((data[0] >> 2) & 1) * 2;
  try {
    const ft::io::Table t = ft::io::parse_delimited(std::string_view(reinterpret_cast<const char*>(data + 1), size - 1),
                                                    "fuzz", o);
    for (const auto& row : t.rows)
      if (row.size() != t.columns.size()) __builtin_trap();
  } catch (const ft::Error&) {
  }
  return 0;
}
