// ft::Error: the one exception type of the library. Every check on user input throws it with enough
// context (op, tensor name, shapes, file and line) that the message alone says what went wrong.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

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
