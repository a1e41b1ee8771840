#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "io/atomic_file.h"
#include "io/mapped_file.h"

namespace ft::io {
namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference reader's cap

struct DtypeInfo {
  const char* name;
  int bits;
  bool loadable;
  DType as;  // the DType it loads as (I8, I16, U8 widen to i32)
};

// Every dtype string of the format, in its declared alignment order.
const DtypeInfo kDtypes[] = {
    {"BOOL", 8, true, DType::boolean},   {"F4", 4, false, DType::f32},       {"F6_E2M3", 6, false, DType::f32},
    {"F6_E3M2", 6, false, DType::f32},   {"U8", 8, true, DType::i32},        {"I8", 8, true, DType::i32},
    {"F8_E5M2", 8, false, DType::f32},   {"F8_E4M3", 8, false, DType::f32},  {"F8_E8M0", 8, false, DType::f32},
    {"F8_E4M3FNUZ", 8, false, DType::f32}, {"F8_E5M2FNUZ", 8, false, DType::f32}, {"I16", 16, true, DType::i32},
    {"U16", 16, false, DType::f32},      {"F16", 16, true, DType::f16},      {"BF16", 16, true, DType::bf16},
    {"I32", 32, true, DType::i32},       {"U32", 32, false, DType::f32},     {"F32", 32, true, DType::f32},
    {"C64", 64, false, DType::f32},      {"F64", 64, true, DType::f64},      {"I64", 64, true, DType::i64},
    {"U64", 64, false, DType::f32},
};

const DtypeInfo* find_dtype(const std::string& s) {
  for (const DtypeInfo& d : kDtypes)
    if (s == d.name) return &d;
  return nullptr;
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

int alignment_rank(DType t) {
  const char* s = dtype_to_string(t);
  for (size_t i = 0; i < sizeof(kDtypes) / sizeof(kDtypes[0]); ++i)
    if (std::strcmp(kDtypes[i].name, s) == 0) return static_cast<int>(i);
  return 0;
}

// Parses the header JSON, refusing duplicate keys and nesting deeper than the format needs.
nlohmann::json parse_header(const std::string& path, const char* data, size_t n) {
  std::vector<std::set<std::string>> keys_at_depth(8);
  std::string duplicate;
  auto cb = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    if (depth > 4) throw Error(cat(path, ": header JSON is nested deeper than the format allows"));
    if (event == nlohmann::json::parse_event_t::object_start) keys_at_depth[depth + 1].clear();
    if (event == nlohmann::json::parse_event_t::key) {
      const std::string k = parsed.get<std::string>();
      if (!keys_at_depth[depth].insert(k).second) throw Error(cat(path, ": duplicate key '", k, "' in the header"));
    }
    return true;
  };
  try {
    return nlohmann::json::parse(data, data + n, cb);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(cat(path, ": header is not valid JSON: ", e.what()));
  }
}

}  // namespace

bool safetensors_dtype_supported(const std::string& dtype, DType* out) {
  const DtypeInfo* d = find_dtype(dtype);
  if (!d || !d->loadable) return false;
  if (out) *out = d->as;
  return true;
}

SafetensorsLayout parse_safetensors(const uint8_t* data, uint64_t size, const std::string& path) {
  SafetensorsLayout out;
  FT_CHECK(size >= 8, path, ": file too small for a safetensors header (", size, " bytes)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | data[i];
  FT_CHECK(n <= kMaxHeader, path, ": header length ", n, " exceeds the 100 MB limit");
  FT_CHECK(n <= size - 8, path, ": header length ", n, " runs past the end of the file (", size, " bytes)");
  out.header_bytes = n;
  const nlohmann::json j = parse_header(path, reinterpret_cast<const char*>(data + 8), n);
  FT_CHECK(j.is_object(), path, ": header must be a JSON object");
  for (auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      FT_CHECK(v.is_object(), path, ": __metadata__ must be an object of strings");
      for (auto& [k, str] : v.items()) {
        FT_CHECK(str.is_string(), path, ": __metadata__ value for '", k, "' is not a string");
        out.metadata[k] = str.get<std::string>();
      }
      continue;
    }
    FT_CHECK(v.is_object() && v.size() == 3 && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
             path, ": tensor '", name, "' needs exactly dtype, shape and data_offsets");
    TensorInfo t;
    t.name = name;
    FT_CHECK(v["dtype"].is_string(), path, ": tensor '", name, "': dtype is not a string");
    t.dtype = v["dtype"].get<std::string>();
    FT_CHECK(find_dtype(t.dtype) != nullptr, path, ": tensor '", name, "': unknown dtype ", t.dtype);
    FT_CHECK(v["shape"].is_array(), path, ": tensor '", name, "': shape is not an array");
    for (auto& d : v["shape"]) {
      FT_CHECK(d.is_number_unsigned() && d.get<uint64_t>() < (uint64_t(1) << 48), path, ": tensor '", name,
               "': shape entries must be non-negative integers below 2^48");
      t.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
    }
    auto& off = v["data_offsets"];
    FT_CHECK(off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(), path,
             ": tensor '", name, "': data_offsets must be two non-negative integers");
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
    out.tensors.push_back(std::move(t));
  }
  std::sort(out.tensors.begin(), out.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t running = 0;
  for (const TensorInfo& t : out.tensors) {
    FT_CHECK(t.begin == running && t.end >= t.begin, path, ": tensor '", t.name, "': data_offsets [", t.begin, ", ",
             t.end, "] are not contiguous (expected to start at ", running, ")");
    uint64_t count = 1;
    for (int64_t d : t.shape) {
      FT_CHECK(d == 0 || count <= std::numeric_limits<uint64_t>::max() / 64 / static_cast<uint64_t>(d), path,
               ": tensor '", t.name, "': element count overflows");
      count *= static_cast<uint64_t>(d);
    }
    const uint64_t bits = count * static_cast<uint64_t>(find_dtype(t.dtype)->bits);
    FT_CHECK(bits % 8 == 0, path, ": tensor '", t.name, "': ", count, " elements of ", t.dtype,
             " do not fill whole bytes");
    FT_CHECK(t.nbytes() == bits / 8, path, ": tensor '", t.name, "': ", t.nbytes(), " bytes for ", t.dtype, " shape ",
             shape_str(t.shape), " (expected ", bits / 8, ")");
    running = t.end;
  }
  FT_CHECK(8 + n + running == size, path, ": file is ", size, " bytes but the header describes ", 8 + n + running,
           size < 8 + n + running ? " (truncated)" : " (trailing bytes)");
  return out;
}

SafetensorsReader::SafetensorsReader(const std::string& path)
    : path_(path), file_(std::make_unique<MappedFile>(path, "safetensors")) {
  map_ = file_->data();
  size_ = file_->size();
  FT_CHECK(size_ >= 8, path, ": file too small for a safetensors header (", size_, " bytes)");
  SafetensorsLayout layout = parse_safetensors(map_, size_, path);
  header_bytes_ = layout.header_bytes;
  tensors_ = std::move(layout.tensors);
  metadata_ = std::move(layout.metadata);
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

SafetensorsReader::~SafetensorsReader() = default;

const TensorInfo& SafetensorsReader::info(const std::string& name) const {
  auto it = index_.find(name);
  FT_CHECK(it != index_.end(), path_, ": no tensor named '", name, "'");
  return tensors_[it->second];
}

Tensor SafetensorsReader::load(const std::string& name) const {
  const TensorInfo& t = info(name);
  DType as;
  FT_CHECK(safetensors_dtype_supported(t.dtype, &as), path_, ": tensor '", name, "': dtype ", t.dtype,
           " is recognised but not supported by ftrain");
  const uint8_t* src = map_ + 8 + header_bytes_ + t.begin;
  if (t.dtype == "I8" || t.dtype == "I16" || t.dtype == "U8") {
    std::vector<int64_t> v(static_cast<size_t>(t.numel()));
    for (size_t i = 0; i < v.size(); ++i) {
      if (t.dtype == "U8") v[i] = src[i];
      else if (t.dtype == "I8") v[i] = static_cast<int8_t>(src[i]);
      else {
        int16_t x;
        std::memcpy(&x, src + 2 * i, 2);
        v[i] = x;
      }
    }
    return from_vector_i64(v, t.shape).to(DType::i32);
  }
  return from_bytes(src, as, t.shape);
}

SafetensorsFile read_safetensors(const std::string& path) {
  SafetensorsReader r(path);
  SafetensorsFile out;
  out.metadata = r.metadata();
  for (const TensorInfo& t : r.tensors()) out.tensors[t.name] = r.load(t.name);
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
    FT_CHECK(name != "__metadata__", path, ": '__metadata__' cannot name a tensor");
    FT_CHECK(t.device().is_cpu(), path, ": tensor '", name, "' must be on the CPU to be saved");
    j[name] = {{"dtype", dtype_to_string(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {off, off + t.nbytes()}}};
    off += t.nbytes();
  }
  std::string header = j.dump();
  header.append((8 - header.size() % 8) % 8, ' ');
  write_file_atomically(path, [&](std::ostream& f) {
    uint64_t n = header.size();
    uint8_t len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(n >> (8 * i));
    f.write(reinterpret_cast<const char*>(len_bytes), 8);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (auto& [name, t] : order) {
      Tensor c = t.detach().contiguous();
      f.write(static_cast<const char*>(c.raw_data()), static_cast<std::streamsize>(c.nbytes()));
    }
  });
}

}  // namespace ft::io
