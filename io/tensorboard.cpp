#include "io/tensorboard.h"

#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace ft::io {
namespace {

constexpr uint32_t kCastagnoli = 0x82F63B78u;  // reflected polynomial

std::array<uint32_t, 256> crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kCastagnoli : c >> 1;
    t[i] = c;
  }
  return t;
}

// Protobuf wire encoding: keys are (field << 3) | wire type; 0 varint, 1 fixed64, 2 bytes, 5 fixed32.
void varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
template <class T>
void fixed(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
  out.append(b, sizeof(T));
}
void bytes_field(std::string& out, int field, const std::string& bytes) {
  varint(out, static_cast<uint64_t>(field) << 3 | 2);
  varint(out, bytes.size());
  out += bytes;
}

double now() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
}

}  // namespace

uint32_t crc32c(std::string_view bytes) {
  static const std::array<uint32_t, 256> table = crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view bytes) {
  const uint32_t c = crc32c(bytes);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

std::string event_file_version(double wall_time) {
  std::string e;
  e.push_back(0x09);  // wall_time = 1, fixed64
  fixed(e, wall_time);
  bytes_field(e, 3, "brain.Event:2");  // file_version = 3
  return e;
}

std::string event_scalar(double wall_time, int64_t step, const std::string& tag, float value) {
  std::string v;
  bytes_field(v, 1, tag);  // Summary.Value.tag = 1
  v.push_back(0x15);       // simple_value = 2, fixed32
  fixed(v, value);
  std::string summary;
  bytes_field(summary, 1, v);  // Summary.value = 1
  std::string e;
  e.push_back(0x09);
  fixed(e, wall_time);
  e.push_back(0x10);  // step = 2, varint
  varint(e, static_cast<uint64_t>(step));
  bytes_field(e, 5, summary);  // summary = 5
  return e;
}

std::string tf_record(const std::string& data) {
  std::string r;
  fixed(r, static_cast<uint64_t>(data.size()));
  fixed(r, masked_crc32c(r));
  r += data;
  fixed(r, masked_crc32c(data));
  return r;
}

EventWriter::EventWriter(const std::string& logdir) {
  std::error_code ec;
  std::filesystem::create_directories(logdir, ec);
  FT_CHECK(!ec, logdir, ": cannot create the TensorBoard log directory: ", ec.message());
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  const double t = now();
  path_ = cat(logdir, "/events.out.tfevents.", static_cast<int64_t>(t), ".", host, ".", getpid(), ".0");
  f_ = std::fopen(path_.c_str(), "wb");
  FT_CHECK(f_ != nullptr, path_, ": cannot create the TensorBoard event file: ", std::strerror(errno));
  write(event_file_version(t));
}

EventWriter::~EventWriter() {
  if (f_) std::fclose(f_);
}

void EventWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  write(event_scalar(now(), step, tag, static_cast<float>(value)));
}

void EventWriter::write(const std::string& event) {
  const std::string r = tf_record(event);
  FT_CHECK(std::fwrite(r.data(), 1, r.size(), f_) == r.size() && std::fflush(f_) == 0, path_, ": cannot write: ",
           std::strerror(errno));
}

}  // namespace ft::io
