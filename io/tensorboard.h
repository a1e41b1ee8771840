// TensorBoard event files written without TensorFlow (../shared/reference/hf-reference.md section 7):
// a sequence of TFRecords (length, masked CRC32C of the length, a serialized Event protobuf, masked
// CRC32C of the data), the first Event carrying file_version "brain.Event:2", each scalar as a
// Summary value with simple_value, the encoding torch's SummaryWriter and the Hugging Face
// TensorBoardCallback write. The file is flushed after every event so TensorBoard can tail it.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ft::io {

// CRC32C (Castagnoli) and TFRecord's masking of it.
uint32_t crc32c(std::string_view bytes);
uint32_t masked_crc32c(std::string_view bytes);

// The serialized Event protobufs (exposed for tests against the reference's worked bytes).
std::string event_file_version(double wall_time);
std::string event_scalar(double wall_time, int64_t step, const std::string& tag, float value);
// One TFRecord around a serialized message.
std::string tf_record(const std::string& data);

class EventWriter {
 public:
  // Creates logdir (and parents) and events.out.tfevents.<time>.<host>.<pid>.0 inside it.
  explicit EventWriter(const std::string& logdir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;
  void add_scalar(const std::string& tag, double value, int64_t step);
  const std::string& path() const { return path_; }

 private:
  void write(const std::string& event);
  std::string path_;
  std::FILE* f_ = nullptr;
};

}  // namespace ft::io
