// Interoperability with the PyPI safetensors package: files it wrote (tests/golden/
// gen_safetensors_interop.py) load in ftrain with the right values, and ftrain writes the same
// tensors byte for byte as it does, so the package reads ftrain's files.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "io/safetensors.h"

namespace ft::io {
namespace {

const std::string kDir = FT_FIXTURES_DIR;

// The generator's formula.
std::vector<double> values(int64_t n, const std::string& kind) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (kind == "int") v[i] = static_cast<double>(i % 7 - 3);
    else if (kind == "u8") v[i] = static_cast<double>((i * 37) % 256);
    else if (kind == "bool") v[i] = i % 3 == 0;
    else v[i] = static_cast<double>(i % 7) * 0.5 - 1;
  }
  return v;
}

struct Expected {
  std::string name, file_dtype;
  DType dtype;
  Shape shape;
  std::string kind;
};

const std::vector<Expected> kExpected = {
    {"f64", "F64", DType::f64, {2, 3}, "float"},   {"f32", "F32", DType::f32, {3, 4}, "float"},
    {"bf16", "BF16", DType::bf16, {5}, "float"},   {"f16", "F16", DType::f16, {2, 2}, "float"},
    {"i64", "I64", DType::i64, {3}, "int"},        {"i32", "I32", DType::i32, {7}, "int"},
    {"i16", "I16", DType::i32, {5}, "int"},        {"i8", "I8", DType::i32, {6}, "int"},
    {"u8", "U8", DType::i32, {9}, "u8"},           {"bool", "BOOL", DType::boolean, {4}, "bool"},
    {"empty", "F32", DType::f32, {0, 3}, "float"}, {"scalar", "F32", DType::f32, {}, "scalar"},
};

TEST(SafetensorsInterop, ReadsEveryDtypeThePyPiPackageWrites) {
  SafetensorsReader r(kDir + "/pypi_all_dtypes.safetensors");
  EXPECT_EQ(r.metadata().at("format"), "pt");
  ASSERT_EQ(r.tensors().size(), kExpected.size());
  for (const Expected& e : kExpected) {
    ASSERT_TRUE(r.contains(e.name)) << e.name;
    EXPECT_EQ(r.info(e.name).dtype, e.file_dtype) << e.name;
    const Tensor t = r.load(e.name);
    EXPECT_EQ(t.dtype(), e.dtype) << e.name;
    EXPECT_EQ(t.shape(), e.shape) << e.name;
    const auto want = e.kind == "scalar" ? std::vector<double>{2.5} : values(t.numel(), e.kind);
    EXPECT_EQ(t.to_vector<double>(), want) << e.name;
  }
}

TEST(SafetensorsInterop, WritesTheSameBytesAsThePyPiPackage) {
  std::map<std::string, Tensor> ts;
  for (const Expected& e : kExpected) {
    if (e.file_dtype == "I16" || e.file_dtype == "I8" || e.file_dtype == "U8") continue;  // ftrain does not write these
    const auto v = e.kind == "scalar" ? std::vector<double>{2.5} : values(shape_numel(e.shape), e.kind);
    ts[e.name] = from_vector(v, e.shape, DType::f64).to(e.dtype);
  }
  const std::string out = ::testing::TempDir() + "ftrain_written.safetensors";
  write_safetensors(out, ts, {{"format", "pt"}});
  auto bytes = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  EXPECT_EQ(bytes(out), bytes(kDir + "/pypi_writable.safetensors"));
  std::remove(out.c_str());
}

}  // namespace
}  // namespace ft::io
