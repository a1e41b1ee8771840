// ft::Error: the one exception type of the library. Every check on user input throws it with enough
// context (op, tensor name, shapes, file and line) that the message alone says what went wrong.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ft {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& os, const T& first, const Rest&... rest) {
  os << first;
  append(os, rest...);
}
}  // namespace detail

// Concatenates its arguments with operator<<.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  detail::append(os, args...);
  return os.str();
}

// User input quoted in a message, cut to about `max` bytes (on a UTF-8 character boundary) with the
// rest counted, so that a 10 MB header line or a binary blob never floods the terminal.
inline std::string clip(std::string_view s, size_t max = 160) {
  if (s.size() <= max) return std::string(s);
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return cat(s.substr(0, end), "... (", s.size() - end, " more bytes)");
}

// The first few names of a list and how many more there are: "a, b, c, d, e and 96 more".
inline std::string name_list(const std::vector<std::string>& names, size_t first = 5) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < first; ++i) out += (i ? ", " : "") + clip(names[i], 80);
  if (names.size() > first) out += cat(" and ", names.size() - first, " more");
  return out;
}

}  // namespace ft

// FT_CHECK(cond, parts...): throws ft::Error with the parts streamed together when cond is false.
#define FT_CHECK(cond, ...)                                     \
  do {                                                          \
    if (!(cond)) throw ::ft::Error(::ft::cat(__VA_ARGS__));     \
  } while (0)

// FT_INTERNAL(cond): an invariant of the library itself, not of user input; names the source line.
#define FT_INTERNAL(cond)                                                                      \
  do {                                                                                         \
    if (!(cond))                                                                               \
      throw ::ft::Error(::ft::cat("internal error: ", #cond, " at ", __FILE__, ":", __LINE__)); \
  } while (0)
