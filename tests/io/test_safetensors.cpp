// The minimal safetensors reader and writer: reference bytes, round trips, and malformed files.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <unistd.h>

#include "io/safetensors.h"

namespace ft::io {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "ft_" + std::to_string(::getpid()) + "_" + name;
}

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_all(const std::string& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string with_header(const std::string& json, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(n >> (8 * i));
  return out + json + data;
}

TEST(Safetensors, WritesTheReferenceBytes) {
  const std::string p = temp_path("ref.safetensors");
  write_safetensors(p, {{"attn.0", arange(0, 6).reshape({1, 2, 3})}});
  const std::string bytes = read_all(p);
  ASSERT_EQ(bytes.size(), 96u);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 64);
  // 64 bytes of JSON: already a multiple of 8, so no padding (the Python writer gives the same 96 bytes).
  EXPECT_EQ(bytes.substr(8, 64), R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})");
  const std::string p2 = temp_path("ref2.safetensors");
  write_safetensors(p2, {{"attn0", arange(0, 6).reshape({1, 1, 2, 3})}});
  const std::string b2 = read_all(p2);
  EXPECT_EQ(static_cast<uint8_t>(b2[0]), 72);  // 65 bytes of JSON padded with 7 spaces
  EXPECT_EQ(b2.substr(8 + 65, 7), "       ");
  std::remove(p2.c_str());
  std::remove(p.c_str());
}

TEST(Safetensors, RoundTripsEveryDtypeAndMetadata) {
  const std::string p = temp_path("rt.safetensors");
  std::map<std::string, Tensor> ts = {
      {"a", arange(0, 6).reshape({2, 3}).t()},  // non-contiguous: written row-major
      {"b", arange(0, 4, 1, DType::f64)},       {"c", arange(0, 3, 1, DType::bf16)},
      {"d", arange(0, 3, 1, DType::f16)},       {"e", arange(0, 5, 1, DType::i64)},
      {"f", arange(0, 2, 1, DType::i32)},       {"g", ones({2}, DType::boolean)},
      {"empty", zeros({0, 3})},                 {"scalar", scalar_tensor(7)}};
  write_safetensors(p, ts, {{"format", "pt"}});
  SafetensorsFile f = read_safetensors(p);
  EXPECT_EQ(f.metadata.at("format"), "pt");
  ASSERT_EQ(f.tensors.size(), ts.size());
  for (auto& [name, t] : ts) {
    EXPECT_EQ(f.tensors.at(name).dtype(), t.dtype()) << name;
    EXPECT_EQ(f.tensors.at(name).shape(), t.shape()) << name;
    EXPECT_EQ(f.tensors.at(name).to_vector<double>(), t.to_vector<double>()) << name;
  }
  std::remove(p.c_str());
}

std::string error_reading(const std::string& bytes) {
  const std::string p = temp_path("bad.safetensors");
  write_all(p, bytes);
  try {
    read_safetensors(p);
  } catch (const Error& e) {
    std::remove(p.c_str());
    return e.what();
  }
  std::remove(p.c_str());
  return "no error";
}

TEST(Safetensors, MalformedFilesGiveErrorsNamingFileAndTensor) {
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(error_reading(with_header(ok, std::string(8, '\0'))), "no error");
  EXPECT_NE(error_reading("abc").find("file too small"), std::string::npos);
  std::string huge(8, '\0');
  huge[5] = 1;  // 2^40
  EXPECT_NE(error_reading(huge).find("exceeds the 100 MB limit"), std::string::npos);
  const std::string n = std::to_string(8 + ok.size() + 8);
  EXPECT_NE(error_reading(with_header(ok, std::string(4, '\0'))).find("but the header describes " + n), std::string::npos);
  EXPECT_NE(error_reading(with_header(ok, std::string(9, '\0'))).find("but the header describes " + n), std::string::npos);
  EXPECT_NE(error_reading(with_header("{not json", "")).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_reading(with_header(R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", std::string(2, '\0')))
                .find("tensor 'w': dtype F8_E4M3 is recognised but not supported by ftrain"),
            std::string::npos);
  EXPECT_NE(error_reading(with_header(R"({"w":{"dtype":"F9","shape":[2],"data_offsets":[0,2]}})", std::string(2, '\0')))
                .find("tensor 'w': unknown dtype F9"),
            std::string::npos);
  EXPECT_NE(error_reading(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                      std::string(8, '\0')))
                .find("duplicate key 'w'"),
            std::string::npos);
  EXPECT_NE(error_reading(with_header(std::string(2000, '[') + std::string(2000, ']'), "")).find("nested deeper"),
            std::string::npos);
  EXPECT_NE(error_reading(with_header(ok, std::string(4, '\0'))).find("(truncated)"), std::string::npos);
  EXPECT_NE(error_reading(with_header(ok, std::string(9, '\0'))).find("(trailing bytes)"), std::string::npos);
  EXPECT_NE(error_reading(with_header(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0')))
                .find("tensor 'w': 8 bytes for F32 shape [3] (expected 12)"),
            std::string::npos);
  EXPECT_NE(error_reading(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, '\0')))
                .find("tensor 'w': data_offsets [4, 8] are not contiguous"),
            std::string::npos);
  const std::string msg = error_reading(with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "abcd"));
  EXPECT_NE(msg.find("bad.safetensors: tensor 'w'"), std::string::npos) << msg;
}

TEST(Safetensors, ReaderListsInFileOrderAndWidensSmallIntegers) {
  // I8 [-2, 3] then I16 [-300] then U8 [200]: data laid out in that order.
  std::string data;
  data += static_cast<char>(-2);
  data += static_cast<char>(3);
  const int16_t v = -300;
  data.append(reinterpret_cast<const char*>(&v), 2);
  data += static_cast<char>(200);
  const std::string p = temp_path("ints.safetensors");
  write_all(p, with_header(R"({"u":{"dtype":"U8","shape":[1],"data_offsets":[4,5]},"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"I16","shape":[1],"data_offsets":[2,4]}})",
                           data));
  SafetensorsReader r(p);
  ASSERT_EQ(r.tensors().size(), 3u);
  EXPECT_EQ(r.tensors()[0].name, "a");
  EXPECT_EQ(r.tensors()[2].name, "u");
  EXPECT_EQ(r.load("a").dtype(), DType::i32);
  EXPECT_EQ(r.load("a").to_vector<int64_t>(), (std::vector<int64_t>{-2, 3}));
  EXPECT_EQ(r.load("b").to_vector<int64_t>(), (std::vector<int64_t>{-300}));
  EXPECT_EQ(r.load("u").to_vector<int64_t>(), (std::vector<int64_t>{200}));
  EXPECT_THROW(r.info("missing"), Error);
  std::remove(p.c_str());
}

TEST(Safetensors, MissingFileIsAClearError) {
  try {
    read_safetensors("/nonexistent/model.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/model.safetensors: cannot open safetensors file: No such file or directory");
  }
}

}  // namespace
}  // namespace ft::io
