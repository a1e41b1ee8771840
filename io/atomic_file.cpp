#include "io/atomic_file.h"

#include <cstdio>
#include <fstream>

#include "core/error.h"

namespace ft::io {

void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    FT_CHECK(f.good(), tmp, ": cannot open for writing");
    try {
      write(f);
    } catch (...) {
      f.close();
      std::remove(tmp.c_str());
      throw;
    }
    f.flush();
    if (!f.good()) {
      f.close();
      std::remove(tmp.c_str());
      throw Error(cat(tmp, ": write failed"));
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(cat(path, ": cannot rename ", tmp, " into place"));
  }
}

}  // namespace ft::io
