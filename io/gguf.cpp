#include "io/gguf.h"

#include <cstring>
#include <limits>
#include <set>

#include "core/error.h"
#include "io/mapped_file.h"
#include "kernels/common/half.h"

namespace ft::io {
namespace {

struct TypeInfo {
  uint32_t id;
  const char* name;
  int block;        // elements per block (0: not dequantised by ftrain, size unchecked)
  int block_bytes;  // bytes per block
};

// ggml's types; block sizes only for those ftrain dequantises.
const TypeInfo kTypes[] = {
    {0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},    {3, "Q4_1", 32, 20},
    {6, "Q5_0", 0, 0},      {7, "Q5_1", 0, 0},      {8, "Q8_0", 32, 34},    {9, "Q8_1", 0, 0},
    {10, "Q2_K", 0, 0},     {11, "Q3_K", 0, 0},     {12, "Q4_K", 0, 0},     {13, "Q5_K", 0, 0},
    {14, "Q6_K", 0, 0},     {15, "Q8_K", 0, 0},     {16, "IQ2_XXS", 0, 0},  {17, "IQ2_XS", 0, 0},
    {18, "IQ3_XXS", 0, 0},  {19, "IQ1_S", 0, 0},    {20, "IQ4_NL", 0, 0},   {21, "IQ3_S", 0, 0},
    {22, "IQ2_S", 0, 0},    {23, "IQ4_XS", 0, 0},   {24, "I8", 0, 0},       {25, "I16", 0, 0},
    {26, "I32", 0, 0},      {27, "I64", 0, 0},      {28, "F64", 0, 0},      {29, "IQ1_M", 0, 0},
    {30, "BF16", 1, 2},     {34, "TQ1_0", 0, 0},    {35, "TQ2_0", 0, 0},    {39, "MXFP4", 0, 0},
};

const TypeInfo* find_type(uint32_t id) {
  for (const TypeInfo& t : kTypes)
    if (t.id == id) return &t;
  return nullptr;
}

enum ValueType : uint32_t { u8, i8, u16, i16, u32, i32, f32, boolean, string, array, u64, i64, f64 };

// A bounds-checked little-endian cursor over the file's bytes.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& path) : data_(data), size_(size), path_(path) {}
  uint64_t pos() const { return pos_; }
  uint64_t left() const { return size_ - pos_; }
  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what) {
    const uint64_t n = read<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return s;
  }
  void need(uint64_t n, const char* what) const {
    if (n > left())
      throw Error(cat(path_, ": truncated GGUF file: ", what, " at byte ", pos_, " needs ", n, " bytes, ", left(),
                      " remain"));
  }

 private:
  const uint8_t* data_;
  uint64_t size_, pos_ = 0;
  const std::string& path_;
};

Json read_value(Cursor& c, uint32_t type, const std::string& path, const std::string& key, int depth) {
  switch (type) {
    case u8: return c.read<uint8_t>("a u8 value");
    case i8: return c.read<int8_t>("an i8 value");
    case u16: return c.read<uint16_t>("a u16 value");
    case i16: return c.read<int16_t>("an i16 value");
    case u32: return c.read<uint32_t>("a u32 value");
    case i32: return c.read<int32_t>("an i32 value");
    case f32: return c.read<float>("an f32 value");
    case u64: return c.read<uint64_t>("a u64 value");
    case i64: return c.read<int64_t>("an i64 value");
    case f64: return c.read<double>("an f64 value");
    case boolean: {
      const uint8_t b = c.read<uint8_t>("a bool value");
      FT_CHECK(b <= 1, path, ": metadata key '", key, "': a bool of value ", int(b), " at byte ", c.pos() - 1);
      return b == 1;
    }
    case string: return c.read_string("a string value");
    case array: {
      FT_CHECK(depth < 2, path, ": metadata key '", key, "': arrays nested deeper than 2 levels");
      const uint32_t elem = c.read<uint32_t>("an array's element type");
      const uint64_t n = c.read<uint64_t>("an array's length");
      // Every element takes at least one byte: a count beyond the bytes left is a truncated file.
      c.need(n, "the array's elements");
      Json out = Json::array();
      for (uint64_t i = 0; i < n; ++i) out.push_back(read_value(c, elem, path, key, depth + 1));
      return out;
    }
    default:
      throw Error(cat(path, ": metadata key '", key, "' has value type ", type, " at byte ", c.pos() - 4,
                      " (GGUF defines 0..12)"));
  }
}

}  // namespace

std::string ggml_type_name(uint32_t type) {
  const TypeInfo* t = find_type(type);
  return t ? t->name : cat("unknown type ", type);
}

bool ggml_type_supported(uint32_t type) {
  const TypeInfo* t = find_type(type);
  return t && t->block > 0;
}

Shape GgufTensorInfo::shape() const {
  Shape s;
  for (size_t i = ne.size(); i-- > 0;) s.push_back(static_cast<int64_t>(ne[i]));
  return s;
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (uint64_t d : ne) n *= static_cast<int64_t>(d);
  return n;
}

GgufLayout parse_gguf(const uint8_t* data, uint64_t size, const std::string& path) {
  Cursor c(data, size, path);
  const uint32_t magic = c.read<uint32_t>("the magic");
  FT_CHECK(magic == 0x46554747u, path, ": not a GGUF file (the first 4 bytes are not \"GGUF\")");
  GgufLayout out;
  out.version = c.read<uint32_t>("the version");
  FT_CHECK(out.version == 2 || out.version == 3, path, ": GGUF version ", out.version,
           " (ftrain reads versions 2 and 3)");
  const uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  const uint64_t n_kv = c.read<uint64_t>("the key/value count");
  c.need(n_kv, "the key/value pairs");  // each takes more than one byte
  out.metadata = Json::object();
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("a metadata key");
    const uint32_t type = c.read<uint32_t>("a metadata value type");
    FT_CHECK(!out.metadata.contains(key), path, ": duplicate metadata key '", key, "'");
    out.metadata[key] = read_value(c, type, path, key, 0);
  }
  if (out.metadata.contains("general.alignment")) {
    const Json& a = out.metadata["general.alignment"];
    FT_CHECK(a.is_number_unsigned(), path, ": general.alignment is not an unsigned integer");
    out.alignment = a.get<uint64_t>();
    FT_CHECK(out.alignment > 0 && (out.alignment & (out.alignment - 1)) == 0 && out.alignment <= (1u << 20), path,
             ": general.alignment ", out.alignment, " is not a power of two up to 1 MiB");
  }
  c.need(n_tensors, "the tensor table");
  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.read_string("a tensor name");
    FT_CHECK(names.insert(t.name).second, path, ": duplicate tensor '", t.name, "'");
    const uint32_t dims = c.read<uint32_t>("a tensor's dimension count");
    FT_CHECK(dims >= 1 && dims <= 4, path, ": tensor '", t.name, "' has ", dims, " dimensions (GGUF allows 1 to 4)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < dims; ++d) {
      const uint64_t n = c.read<uint64_t>("a tensor dimension");
      FT_CHECK(n > 0 && n <= uint64_t(std::numeric_limits<int64_t>::max()) / numel, path, ": tensor '", t.name,
               "' has dimension ", d, " of ", n, " (zero, or the element count overflows)");
      numel *= n;
      t.ne.push_back(n);
    }
    t.type = c.read<uint32_t>("a tensor type");
    const TypeInfo* info = find_type(t.type);
    FT_CHECK(info, path, ": tensor '", t.name, "' has ggml type ", t.type, ", which ggml does not define");
    t.offset = c.read<uint64_t>("a tensor offset");
    FT_CHECK(t.offset % out.alignment == 0, path, ": tensor '", t.name, "' offset ", t.offset,
             " is not a multiple of the alignment ", out.alignment);
    if (info->block > 0) {
      FT_CHECK(t.ne[0] % info->block == 0, path, ": tensor '", t.name, "' rows of ", t.ne[0], " elements are not whole ",
               info->name, " blocks of ", info->block);
      t.nbytes = numel / info->block * info->block_bytes;
    }
    out.tensors.push_back(std::move(t));
  }
  out.data_offset = (c.pos() + out.alignment - 1) / out.alignment * out.alignment;
  FT_CHECK(out.data_offset <= size, path, ": truncated GGUF file: the data section would start at byte ",
           out.data_offset, " of ", size);
  const uint64_t data_bytes = size - out.data_offset;
  for (const GgufTensorInfo& t : out.tensors)
    FT_CHECK(t.offset <= data_bytes && t.nbytes <= data_bytes - t.offset, path,
             ": truncated GGUF file: tensor '", t.name, "' (", ggml_type_name(t.type), ", ", t.nbytes,
             " bytes at data offset ", t.offset, ") runs past the end (", data_bytes, " bytes of data)");
  return out;
}

void dequantize_ggml(uint32_t type, const uint8_t* src, float* dst, int64_t n) {
  auto half = [](const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return kern::f16_to_f32(h);
  };
  switch (static_cast<GgmlType>(type)) {
    case GgmlType::f32: std::memcpy(dst, src, n * sizeof(float)); return;
    case GgmlType::f16:
      for (int64_t i = 0; i < n; ++i) dst[i] = half(src + 2 * i);
      return;
    case GgmlType::bf16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = kern::bf16_to_f32(h);
      }
      return;
    case GgmlType::q8_0:  // blocks of 32: f16 scale d, 32 int8 q; x = d * q
      for (int64_t b = 0; b < n / 32; ++b, src += 34, dst += 32) {
        const float d = half(src);
        for (int j = 0; j < 32; ++j) dst[j] = d * static_cast<float>(static_cast<int8_t>(src[2 + j]));
      }
      return;
    case GgmlType::q4_0:  // blocks of 32: f16 d, 16 bytes of nibbles; low nibbles are 0..15, high 16..31
      for (int64_t b = 0; b < n / 32; ++b, src += 18, dst += 32) {
        const float d = half(src);
        for (int j = 0; j < 16; ++j) {
          dst[j] = d * static_cast<float>((src[2 + j] & 0x0F) - 8);
          dst[j + 16] = d * static_cast<float>((src[2 + j] >> 4) - 8);
        }
      }
      return;
    case GgmlType::q4_1:  // blocks of 32: f16 d, f16 minimum m, 16 bytes of nibbles; x = d * q + m
      for (int64_t b = 0; b < n / 32; ++b, src += 20, dst += 32) {
        const float d = half(src), m = half(src + 2);
        for (int j = 0; j < 16; ++j) {
          dst[j] = d * static_cast<float>(src[4 + j] & 0x0F) + m;
          dst[j + 16] = d * static_cast<float>(src[4 + j] >> 4) + m;
        }
      }
      return;
  }
  throw Error(cat("dequantize: ggml type ", ggml_type_name(type), " is not supported"));
}

GgufReader::GgufReader(const std::string& path) : path_(path), file_(std::make_unique<MappedFile>(path, "GGUF")) {
  map_ = file_->data();
  layout_ = parse_gguf(map_, file_->size(), path);
}

GgufReader::~GgufReader() = default;

const GgufTensorInfo* GgufReader::find(const std::string& name) const {
  for (const GgufTensorInfo& t : layout_.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

Tensor GgufReader::load_f32(const std::string& name) const {
  const GgufTensorInfo* t = find(name);
  FT_CHECK(t, path_, ": no tensor '", name, "'");
  FT_CHECK(ggml_type_supported(t->type), path_, ": tensor '", name, "' has type ", ggml_type_name(t->type),
           "; ftrain dequantises F32, F16, BF16, Q8_0, Q4_0 and Q4_1");
  Tensor out = empty(t->shape(), DType::f32);
  dequantize_ggml(t->type, map_ + layout_.data_offset + t->offset, out.data<float>(), t->numel());
  return out;
}

}  // namespace ft::io
