// TensorBoard event framing against the worked bytes of ../shared/reference/hf-reference.md 7.4 and
// the CRC32C check value; the writer's file starts with the file_version record.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "io/tensorboard.h"

namespace ft::io {
namespace {

std::string hex(const std::string& s) {
  std::string out;
  char b[4];
  for (unsigned char c : s) std::snprintf(b, sizeof(b), "%02x", c), out += b;
  return out;
}

TEST(TensorBoard, Crc32cCheckValue) { EXPECT_EQ(crc32c("123456789"), 0xE3069283u); }

TEST(TensorBoard, WorkedRecords) {
  EXPECT_EQ(hex(event_file_version(1700000000.0)), "0900000040fc54d9411a0d627261696e2e4576656e743a32");
  const std::string e2 = event_scalar(1700000001.0, 10, "train/loss", 0.5f);
  EXPECT_EQ(hex(e2), "0900004040fc54d941100a2a130a110a0a747261696e2f6c6f7373150000003f");
  const std::string r2 = tf_record(e2);
  EXPECT_EQ(hex(r2.substr(0, 12)), "200000000000000029eda950");
  EXPECT_EQ(hex(r2.substr(r2.size() - 4)), "a7e63d51");
  const std::string r1 = tf_record(event_file_version(1700000000.0));
  EXPECT_EQ(hex(r1.substr(0, 12)), "1800000000000000a37f4b22");
  EXPECT_EQ(hex(r1.substr(r1.size() - 4)), "eced8f9d");
}

TEST(TensorBoard, WriterFileStartsWithVersionRecord) {
  const std::string dir = std::filesystem::temp_directory_path().string() + "/ft_tb_test";
  std::filesystem::remove_all(dir);
  std::string path;
  {
    EventWriter w(dir + "/run");
    w.add_scalar("train/loss", 0.25, 3);
    path = w.path();
  }
  EXPECT_NE(std::filesystem::path(path).filename().string().find("events.out.tfevents."), std::string::npos);
  std::ifstream f(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  ASSERT_GT(bytes.size(), 12u + 24u + 4u);
  EXPECT_EQ(hex(bytes.substr(0, 8)), "1800000000000000");  // the 24-byte file_version event
  EXPECT_NE(bytes.find("brain.Event:2"), std::string::npos);
  EXPECT_NE(bytes.find("train/loss"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ft::io
