#include "io/image.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <iterator>

#include <set>

#include "core/error.h"
#include "io/csv.h"
#include "io/jpeg.h"
#include "io/stb_decode.h"

namespace ft::io {
namespace {

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> sorted_entries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  FT_CHECK(d != nullptr, dir, ": cannot open directory: ", std::strerror(errno));
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool is_image_name(std::string n) {
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* ext : {".jpg", ".jpeg", ".png", ".bmp"}) {
    const size_t l = std::strlen(ext);
    if (n.size() > l && n.compare(n.size() - l, l, ext) == 0) return true;
  }
  return false;
}

}  // namespace

Image load_image(const std::string& path, int64_t max_pixels) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  FT_CHECK(f.good(), path, ": cannot open image: ", std::strerror(errno));
  const auto size = static_cast<uint64_t>(f.tellg());
  // No image within the limit needs more bytes than 8 per pixel (16-bit RGBA, uncompressed) plus
  // its metadata; a larger file is not read into memory.
  const uint64_t max_bytes = max_pixels > (int64_t{1} << 56) ? UINT64_MAX : static_cast<uint64_t>(max_pixels) * 8 + (64u << 20);
  FT_CHECK(max_pixels <= 0 || size <= max_bytes, path, ": the file has ", size, " bytes, more than an image of ",
           max_pixels, " pixels (--max_image_pixels) can take");
  std::string bytes(size, '\0');
  f.seekg(0);
  f.read(bytes.data(), static_cast<std::streamsize>(size));
  FT_CHECK(f.gcount() == static_cast<std::streamsize>(size), path, ": cannot read image: ", std::strerror(errno));
  return decode_image(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), path, max_pixels);
}

Image decode_image(const unsigned char* raw, size_t size, const std::string& path, int64_t max_pixels) {
  auto too_large = [&](int64_t w, int64_t h) {
    return Error(cat(path, ": the image is ", w, "x", h, " = ", w * h, " pixels, more than --max_image_pixels ",
                     max_pixels, " (a decompression bomb? raise the limit if the image is genuine)"));
  };
  Image img;
  std::string message;
  if (size >= 3 && raw[0] == 0xFF && raw[1] == 0xD8 && raw[2] == 0xFF) {  // JPEG: as Pillow decodes it
    const JpegResult r = decode_jpeg(raw, size, max_pixels, img, message);
    if (r == JpegResult::too_large) throw too_large(img.width, img.height);
    FT_CHECK(r == JpegResult::ok, path, ": cannot decode image: ", message);
    return img;
  }
  int64_t w = 0, h = 0;
  FT_CHECK(stb_dimensions(raw, size, &w, &h), path, ": cannot decode image: not a JPEG, PNG or BMP file");
  if (max_pixels > 0 && w * h > max_pixels) throw too_large(w, h);
  // What stb_image may allocate: the 8-bit result, a 16-bit intermediate of up to four channels with
  // a filter byte per row, and room for its zlib and row buffers.
  const size_t budget = static_cast<size_t>(w * h) * (3 + 8 * 2) + static_cast<size_t>(h) * 2 + (16u << 20);
  bool over = false;
  if (!stb_decode(raw, size, budget, img, message, over))
    throw Error(over ? cat(path, ": cannot decode image: its data expands to more than a ", w, "x", h,
                           " image can hold (a decompression bomb?)")
                     : cat(path, ": cannot decode image: ", message));
  FT_CHECK(img.width == w && img.height == h, path, ": cannot decode image: its header says ", w, "x", h,
           " but the decoder made ", img.width, "x", img.height);
  return img;
}

ImageFolder list_image_folder(const std::string& root) {
  FT_CHECK(is_dir(root), root, ": not a directory");
  ImageFolder f;
  for (const std::string& cls : sorted_entries(root)) {
    const std::string dir = root + "/" + cls;
    if (!is_dir(dir)) continue;
    const int64_t label = static_cast<int64_t>(f.classes.size());
    f.classes.push_back(cls);
    for (const std::string& file : sorted_entries(dir))
      if (is_image_name(file)) {
        f.paths.push_back(dir + "/" + file);
        f.labels.push_back(label);
      }
  }
  FT_CHECK(!f.paths.empty(), root, ": no images found (expected one subfolder of images per class)");
  return f;
}

int64_t check_images(ImageFolder& folder, bool skip_undecodable, int64_t max_pixels) {
  ImageFolder kept;
  kept.classes = folder.classes;
  int64_t skipped = 0;
  for (size_t i = 0; i < folder.paths.size(); ++i) {
    try {
      load_image(folder.paths[i], max_pixels);
    } catch (const Error&) {
      if (!skip_undecodable) throw;
      ++skipped;
      continue;
    }
    kept.paths.push_back(folder.paths[i]);
    kept.labels.push_back(folder.labels[i]);
  }
  FT_CHECK(!kept.paths.empty(), "no decodable images among ", folder.paths.size());
  folder = std::move(kept);
  return skipped;
}

ImageFolder read_image_manifest(const std::string& csv_path, const std::string& path_column,
                                const std::string& label_column, const std::vector<std::string>* classes) {
  const Table t = read_delimited(csv_path);
  FT_CHECK(!t.rows.empty(), csv_path, ": the manifest lists no images");
  const size_t pc = t.column(path_column, csv_path), lc = t.column(label_column, csv_path);
  const size_t slash = csv_path.find_last_of('/');
  const std::string base = slash == std::string::npos ? "." : csv_path.substr(0, slash);
  ImageFolder f;
  if (classes) {
    f.classes = *classes;
  } else {
    std::set<std::string> names;
    for (const auto& r : t.rows) names.insert(r[lc]);
    f.classes.assign(names.begin(), names.end());
  }
  for (size_t i = 0; i < t.rows.size(); ++i) {
    const std::string& p = t.rows[i][pc];
    auto it = std::find(f.classes.begin(), f.classes.end(), t.rows[i][lc]);
    FT_CHECK(it != f.classes.end(), csv_path, ":", t.row_lines[i], ": label '", t.rows[i][lc], "' is not one of the ",
             f.classes.size(), " classes");
    f.paths.push_back(!p.empty() && p[0] == '/' ? p : base + "/" + p);
    f.labels.push_back(it - f.classes.begin());
  }
  return f;
}

}  // namespace ft::io
