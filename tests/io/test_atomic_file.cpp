// Atomic writes: a failed write leaves the previous file untouched and no temporary file behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
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
  EXPECT_FALSE(std::ifstream(p + ".tmp-" + std::to_string(::getpid())).good());
  write_file_atomically(p, [](std::ostream& f) { f << "second"; });
  EXPECT_EQ(slurp(p), "second");
  std::remove(p.c_str());
}

// The error names the file and says why, in the system's words.
TEST(AtomicFile, ErrorsCarryTheSystemsReason) {
  try {
    write_file_atomically("/nonexistent/dir/file", [](std::ostream& f) { f << "x"; });
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/file: cannot write: No such file or directory"),
              std::string::npos)
        << e.what();
  }
}

// A large write goes through whole (the buffer is drained many times) and leaves no temporary file.
TEST(AtomicFile, LargeWritesAreComplete) {
  const std::string dir = ::testing::TempDir() + "ft_atomic_dir_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const std::string big(5 * 1000 * 1000 + 7, 'x');
  write_file_atomically(dir + "/f", [&](std::ostream& f) { f << big << 'y'; });
  EXPECT_EQ(slurp(dir + "/f"), big + 'y');
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) entries += e.path().filename() == "f" ? 1 : 100;
  EXPECT_EQ(entries, 1);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ft::io
