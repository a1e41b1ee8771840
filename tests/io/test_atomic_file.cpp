// Atomic writes: a failed write leaves the previous file untouched and no temporary file behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

#include "core/error.h"
#include "io/atomic_file.h"

namespace ft::io {
namespace {

std::string slurp(const std::string& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(AtomicFile, FailuresKeepThePreviousFile) {
  const std::string p = ::testing::TempDir() + "ft_atomic_" + std::to_string(::getpid());
  write_file_atomically(p, [](std::ostream& f) { f << "first"; });
  EXPECT_EQ(slurp(p), "first");
  EXPECT_THROW(write_file_atomically(p, [](std::ostream& f) {
                 f << "half";
                 throw std::runtime_error("killed mid-write");
               }),
               std::runtime_error);
  EXPECT_EQ(slurp(p), "first");
  EXPECT_FALSE(std::ifstream(p + ".tmp").good());
  write_file_atomically(p, [](std::ostream& f) { f << "second"; });
  EXPECT_EQ(slurp(p), "second");
  EXPECT_THROW(write_file_atomically("/nonexistent/dir/file", [](std::ostream& f) { f << "x"; }), Error);
  std::remove(p.c_str());
}

}  // namespace
}  // namespace ft::io
