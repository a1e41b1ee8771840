// Where a tensor's memory lives: the host ("cpu") or a CUDA device ("cuda:N").
#pragma once
#include <ostream>
#include <string>

namespace ft {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  Device() = default;
  Device(DeviceType t, int i = 0) : type(t), index(i) {}
  static Device parse(const std::string& s);  // "cpu", "cuda", "cuda:1"; throws ft::Error otherwise
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  std::string str() const;
  bool operator==(const Device& o) const { return type == o.type && (is_cpu() || index == o.index); }
  bool operator!=(const Device& o) const { return !(*this == o); }
};

inline const Device kCPU{};
inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

}  // namespace ft
