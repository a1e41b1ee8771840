#include "core/device.h"

#include <cctype>

#include "core/error.h"

namespace ft {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return Device(DeviceType::cpu);
  if (s == "cuda") return Device(DeviceType::cuda, 0);
  if (s.rfind("cuda:", 0) == 0 && s.size() > 5 && s.size() < 9) {
    int idx = 0;
    for (size_t i = 5; i < s.size(); ++i) {
      FT_CHECK(std::isdigit(static_cast<unsigned char>(s[i])), "invalid device string '", s, "'");
      idx = idx * 10 + (s[i] - '0');
    }
    return Device(DeviceType::cuda, idx);
  }
  throw Error(cat("invalid device string '", s, "' (expected cpu, cuda or cuda:N)"));
}

std::string Device::str() const { return is_cpu() ? "cpu" : cat("cuda:", index); }

}  // namespace ft
