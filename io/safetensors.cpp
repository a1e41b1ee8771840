#include "io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

namespace ft::io {
namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference reader's cap

bool dtype_from_string(const std::string& s, DType& out) {
  static const std::map<std::string, DType> kMap = {
      {"F32", DType::f32}, {"F64", DType::f64}, {"BF16", DType::bf16}, {"F16", DType::f16},
      {"I64", DType::i64}, {"I32", DType::i32}, {"BOOL", DType::boolean}};
  auto it = kMap.find(s);
  if (it == kMap.end()) return false;
  out = it->second;
  return true;
}

const char* dtype_to_string(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::boolean: return "BOOL";
  }
  return "?";
}

// Rank of dtypes in the reference writer's alignment order (larger first when writing).
int alignment_rank(DType t) {
  switch (t) {
    case DType::boolean: return 0;
    case DType::f16: return 1;
    case DType::bf16: return 2;
    case DType::i32: return 3;
    case DType::f32: return 4;
    case DType::f64: return 5;
    case DType::i64: return 6;
  }
  return 0;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  FT_CHECK(f.good(), path, ": cannot open safetensors file");
  const uint64_t size = static_cast<uint64_t>(f.tellg());
  f.seekg(0);
  FT_CHECK(size >= 8, path, ": file too small for a safetensors header (", size, " bytes)");
  uint8_t len_bytes[8];
  f.read(reinterpret_cast<char*>(len_bytes), 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  FT_CHECK(n <= kMaxHeader, path, ": header length ", n, " exceeds the 100 MB limit");
  FT_CHECK(8 + n <= size, path, ": header length ", n, " runs past the end of the file (", size, " bytes)");
  std::string header(n, '\0');
  f.read(header.data(), static_cast<std::streamsize>(n));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const std::exception& e) {
    throw Error(cat(path, ": header is not valid JSON: ", e.what()));
  }
  FT_CHECK(j.is_object(), path, ": header must be a JSON object");
  SafetensorsFile out;
  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      FT_CHECK(v.is_object(), path, ": __metadata__ must be an object of strings");
      for (auto& [k, s] : v.items()) {
        FT_CHECK(s.is_string(), path, ": __metadata__ value for '", k, "' is not a string");
        out.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    FT_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"), path,
             ": tensor '", name, "' needs dtype, shape and data_offsets");
    Entry e;
    e.name = name;
    FT_CHECK(v["dtype"].is_string(), path, ": tensor '", name, "': dtype is not a string");
    const std::string ds = v["dtype"].get<std::string>();
    FT_CHECK(dtype_from_string(ds, e.dtype), path, ": tensor '", name, "': unsupported dtype ", ds);
    FT_CHECK(v["shape"].is_array(), path, ": tensor '", name, "': shape is not an array");
    for (auto& d : v["shape"]) {
      FT_CHECK(d.is_number_unsigned(), path, ": tensor '", name, "': shape entries must be non-negative integers");
      e.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    }
    auto& off = v["data_offsets"];
    FT_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(), path,
             ": tensor '", name, "': data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    entries.push_back(e);
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t running = 0;
  for (const Entry& e : entries) {
    FT_CHECK(e.begin == running && e.end >= e.begin, path, ": tensor '", e.name, "': data_offsets [", e.begin, ", ",
             e.end, "] are not contiguous (expected to start at ", running, ")");
    uint64_t count = 1;
    for (int64_t d : e.shape) {
      FT_CHECK(d == 0 || count <= std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d), path,
               ": tensor '", e.name, "': element count overflows");
      count *= static_cast<uint64_t>(d);
    }
    const uint64_t bytes = count * dtype_size(e.dtype);
    FT_CHECK(count == 0 || bytes / count == dtype_size(e.dtype), path, ": tensor '", e.name, "': size overflows");
    FT_CHECK(e.end - e.begin == bytes, path, ": tensor '", e.name, "': ", e.end - e.begin, " bytes for ",
             dtype_to_string(e.dtype), " shape ", shape_str(e.shape), " (expected ", bytes, ")");
    running = e.end;
  }
  FT_CHECK(8 + n + running == size, path, ": file is ", size, " bytes but the header describes ", 8 + n + running);
  std::string data(static_cast<size_t>(running), '\0');
  f.read(data.data(), static_cast<std::streamsize>(running));
  FT_CHECK(f.good() || running == 0, path, ": read failed");
  for (const Entry& e : entries) out.tensors[e.name] = from_bytes(data.data() + e.begin, e.dtype, e.shape);
  return out;
}

void write_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, Tensor>> order(tensors.begin(), tensors.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    const int ra = alignment_rank(a.second.dtype()), rb = alignment_rank(b.second.dtype());
    return ra != rb ? ra > rb : a.first < b.first;
  });
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!metadata.empty()) j["__metadata__"] = metadata;
  uint64_t off = 0;
  for (auto& [name, t] : order) {
    FT_CHECK(t.device().is_cpu(), path, ": tensor '", name, "' must be on the CPU to be saved");
    j[name] = {{"dtype", dtype_to_string(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {off, off + t.nbytes()}}};
    off += t.nbytes();
  }
  std::string header = j.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    FT_CHECK(f.good(), tmp, ": cannot open for writing");
    uint64_t n = header.size();
    uint8_t len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(n >> (8 * i));
    f.write(reinterpret_cast<const char*>(len_bytes), 8);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (auto& [name, t] : order) {
      Tensor c = t.detach().contiguous();
      f.write(static_cast<const char*>(c.raw_data()), static_cast<std::streamsize>(c.nbytes()));
    }
    f.flush();
    FT_CHECK(f.good(), tmp, ": write failed");
  }
  FT_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, path, ": cannot rename ", tmp, " into place");
}

}  // namespace ft::io
