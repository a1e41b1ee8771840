// ftrain convert's GGUF reader and converter on tiny llama files written by the gguf PyPI package
// (tests/golden/gen_gguf_tiny.py): every supported ggml type dequantised, the tensors equal to what
// transformers' GGUF loader makes of the file (bit for bit), the config and tokenizer files, and one
// clear error each for an unsupported type, a truncated file and other malformed input.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"
#include "io/config.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "models/llama/convert_gguf.h"
#include "tests/common/test_util.h"

namespace ft {
namespace {

const std::string kTiny = std::string(FT_FIXTURES_DIR) + "/tiny_llama.gguf";

std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

std::string temp_dir(const char* name) {
  const std::string d = ::testing::TempDir() + "ft_gguf_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(d);
  return d;
}

using test::error_of;

TEST(Gguf, ReadsTheLayoutAndMetadata) {
  const io::GgufReader r(kTiny);
  EXPECT_EQ(r.layout().version, 3u);
  EXPECT_EQ(r.metadata()["general.architecture"], "llama");
  EXPECT_EQ(r.metadata()["llama.attention.head_count_kv"], 2);
  EXPECT_EQ(r.metadata()["tokenizer.ggml.tokens"].size(), 271u);
  EXPECT_EQ(r.tensors().size(), 2u * 9 + 2);
  const io::GgufTensorInfo* e = r.find("token_embd.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(io::ggml_type_name(e->type), "Q8_0");
  EXPECT_EQ(e->shape(), Shape({271, 64}));  // ne = [64, 271], innermost first
  EXPECT_EQ(e->nbytes, 271u * 64 / 32 * 34);
}

TEST(Gguf, QuantisedBlocksDequantiseByTheirFormulas) {
  // One block each, built by hand: Q8_0 x = d q; Q4_0 x = d (nibble - 8), low nibbles first;
  // Q4_1 x = d nibble + m.
  uint8_t q8[34], q40[18], q41[20];
  const uint16_t half_two = 0x4000, half_half = 0x3800, half_minus_one = 0xBC00;
  std::memcpy(q8, &half_two, 2);
  for (int j = 0; j < 32; ++j) q8[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  std::memcpy(q40, &half_half, 2);
  std::memcpy(q41, &half_two, 2);
  std::memcpy(q41 + 2, &half_minus_one, 2);
  for (int j = 0; j < 16; ++j) q40[2 + j] = q41[4 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float out[32];
  io::dequantize_ggml(8, q8, out, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 2.0f * (j - 16));
  io::dequantize_ggml(2, q40, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 0.5f * (j - 8));
    EXPECT_EQ(out[j + 16], 0.5f * (15 - j - 8));
  }
  io::dequantize_ggml(3, q41, out, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(out[j], 2.0f * j - 1);
    EXPECT_EQ(out[j + 16], 2.0f * (15 - j) - 1);
  }
}

TEST(ConvertGguf, TensorsEqualTransformersGgufLoadBitForBit) {
  const std::string dir = temp_dir("tiny");
  const models::GgufConversion c = models::convert_gguf(kTiny, dir);
  EXPECT_EQ(c.architecture, "llama");
  EXPECT_EQ(c.vocab_size, 271);
  const io::SafetensorsFile got = io::read_safetensors(dir + "/model.safetensors");
  const io::SafetensorsFile want = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/tiny_llama_reference.safetensors");
  ASSERT_EQ(got.tensors.size(), want.tensors.size());
  for (auto& [name, w] : want.tensors) {
    ASSERT_TRUE(got.tensors.count(name)) << name;
    const Tensor& g = got.tensors.at(name);
    ASSERT_EQ(g.shape(), w.shape()) << name;
    const auto gv = g.to_vector<float>(), wv = w.to_vector<float>();
    size_t differ = 0;
    for (size_t i = 0; i < wv.size(); ++i) differ += std::memcmp(&gv[i], &wv[i], 4) != 0;
    EXPECT_EQ(differ, 0u) << name << ": " << differ << " of " << wv.size() << " values differ";
  }
  const io::Json config = io::read_json(dir + "/config.json");
  EXPECT_EQ(config["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(config["num_key_value_heads"], 2);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["rope_theta"], 10000.0);
  const io::Json tok = io::read_json(dir + "/tokenizer.json");
  EXPECT_EQ(tok["model"]["type"], "BPE");
  EXPECT_EQ(tok["model"]["merges"].size(), 12u);
  EXPECT_EQ(tok["model"]["merges"][2], io::Json::array({"Ġt", "he"}));
  EXPECT_EQ(tok["pre_tokenizer"]["pretokenizers"][0]["type"], "Digits");  // tokenizer.ggml.pre "smollm"
  EXPECT_EQ(tok["added_tokens"].size(), 3u);
  const io::Json tc = io::read_json(dir + "/tokenizer_config.json");
  EXPECT_EQ(tc["eos_token"], "<|im_end|>");
  EXPECT_EQ(io::read_json(dir + "/generation_config.json")["eos_token_id"], 2);
  std::filesystem::remove_all(dir);
}

TEST(ConvertGguf, AnUnsupportedTypeIsNamedAndNothingIsWritten) {
  const std::string dir = temp_dir("q4k");
  const std::string msg = error_of([&] { models::convert_gguf(std::string(FT_FIXTURES_DIR) + "/tiny_llama_q4k.gguf", dir); });
  EXPECT_NE(msg.find("tensor 'blk.1.ffn_down.weight' has type Q4_K; ftrain converts F32, F16, BF16, Q8_0, Q4_0 and Q4_1"),
            std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(ConvertGguf, ATruncatedFileIsAClearErrorWhereverItIsCut) {
  const std::string bytes = read_bytes(kTiny);
  const std::string path = temp_dir("cut") + ".gguf";
  // Cuts in the header, the metadata (the token list), the tensor table and the tensor data.
  for (size_t cut : {size_t(3), size_t(20), size_t(200), size_t(4000), bytes.size() / 2, bytes.size() - 1}) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    const std::string msg = error_of([&] { io::GgufReader r(path); });
    EXPECT_NE(msg.find(path + ": truncated GGUF file"), std::string::npos) << "cut at " << cut << ": " << msg;
  }
  std::remove(path.c_str());
}

TEST(ConvertGguf, MalformedFilesAreClearErrors) {
  const std::string bytes = read_bytes(kTiny);
  const std::string path = temp_dir("bad") + ".gguf";
  auto with = [&](size_t at, const std::string& patch) {
    std::string b = bytes;
    b.replace(at, patch.size(), patch);
    std::ofstream(path, std::ios::binary).write(b.data(), static_cast<std::streamsize>(b.size()));
    return error_of([&] { models::convert_gguf(path, temp_dir("bad_out")); });
  };
  EXPECT_NE(with(0, "GGML").find("not a GGUF file"), std::string::npos);
  EXPECT_NE(with(4, std::string("\x07\0\0\0", 4)).find("GGUF version 7"), std::string::npos);
  // The architecture string "llama" is the first value (after general.architecture's key).
  const size_t arch = bytes.find("llama");
  EXPECT_NE(with(arch, "gpt2x").find("general.architecture is 'gpt2x'"), std::string::npos);
  std::remove(path.c_str());
  EXPECT_NE(error_of([] { io::GgufReader r("/nonexistent/model.gguf"); }).find("/nonexistent/model.gguf: cannot open"),
            std::string::npos);
}

}  // namespace
}  // namespace ft
