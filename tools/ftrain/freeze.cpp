// --freeze: parameter names matched against regular expressions (std::regex_search).
// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex> when sanitizers are on
// (GCC PR 105562); the warning points into the library headers, so it is silenced for this file only,
// before they are included.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>

#include "core/error.h"
#include "tools/ftrain/trainer.h"

namespace ft::cli {

std::vector<bool> frozen_parameters(const std::vector<std::string>& patterns, const std::vector<std::string>& names) {
  std::vector<std::regex> res;
  for (const std::string& f : patterns) {
    try {
      res.emplace_back(f);
    } catch (const std::regex_error& e) {
      throw Error(cat("--freeze '", f, "' is not a valid regular expression: ", e.what()));
    }
  }
  std::vector<bool> frozen(names.size(), false);
  std::vector<int64_t> hits(res.size(), 0);
  for (size_t n = 0; n < names.size(); ++n)
    for (size_t i = 0; i < res.size(); ++i)
      if (std::regex_search(names[n], res[i])) frozen[n] = true, ++hits[i];
  // A pattern that matches nothing is a typo that would silently train everything.
  for (size_t i = 0; i < res.size(); ++i)
    FT_CHECK(hits[i] > 0, "--freeze '", patterns[i], "' matches no parameter (names look like '",
             names.empty() ? "" : names.front(), "')");
  return frozen;
}

}  // namespace ft::cli
