#include "tools/ftrain/serve_api.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace ft::cli {
namespace {

bool fail(ApiError& err, std::string message) {
  err = ApiError{400, "Validation", std::move(message)};
  return false;
}

// One element of "inputs": a string, or (text models) a [text, pair] list of two strings.
bool parse_sequence(const nlohmann::json& v, bool images, const std::string& where, RawInput& in, ApiError& err) {
  if (v.is_string()) {
    if (!images) {
      in.text = v.get<std::string>();
      return true;
    }
    if (!base64_decode(v.get<std::string>(), in.image)) return fail(err, where + ": not valid base64");
    if (in.image.empty()) return fail(err, where + ": an empty image");
    return true;
  }
  if (v.is_array() && !images) {
    if (v.size() != 2 || !v[0].is_string() || !v[1].is_string())
      return fail(err, cat(where, ": a pair must be a list of two strings, got ",
                           v.size() == 2 ? "other types" : cat(v.size(), " elements")));
    in.text = v[0].get<std::string>();
    in.text_pair = v[1].get<std::string>();
    in.has_pair = true;
    return true;
  }
  return fail(err, cat(where, ": expected ", images ? "a base64-encoded image (a string)" : "a string or a pair [text, text_pair]",
                       ", got ", v.type_name()));
}

int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool base64_decode(const std::string& in, std::string& out) {
  out.clear();
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (unsigned char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    const int v = b64_value(c);
    if (v < 0 || pad > 0) return false;  // a foreign character, or data after padding
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return pad <= 2 && bits < 6;
}

bool parse_predict_json(const std::string& body, bool images, PredictRequest& out, ApiError& err) {
  out = PredictRequest{};
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(err, "the body is not valid JSON");
  if (!j.is_object()) return fail(err, cat("the body must be a JSON object with \"inputs\", got ", j.type_name()));
  if (!j.contains("inputs")) return fail(err, "missing field \"inputs\"");
  for (const char* flag : {"raw_scores", "truncate"}) {
    if (!j.contains(flag)) continue;
    if (!j[flag].is_boolean()) return fail(err, cat("\"", flag, "\" must be true or false, got ", j[flag].type_name()));
  }
  out.raw_scores = j.value("raw_scores", false);
  out.truncate = j.value("truncate", true);
  const nlohmann::json& v = j["inputs"];
  if (v.is_array()) {
    if (v.empty()) return fail(err, "\"inputs\" is an empty list");
    // [[text, pair]] is a batch of pairs; ["a", "b"] a batch of texts.
    out.batch = true;
    for (size_t i = 0; i < v.size(); ++i) {
      RawInput in;
      if (!parse_sequence(v[i], images, cat("inputs[", i, "]"), in, err)) return false;
      out.inputs.push_back(std::move(in));
    }
    return true;
  }
  RawInput in;
  if (!parse_sequence(v, images, "inputs", in, err)) return false;
  out.inputs.push_back(std::move(in));
  return true;
}

std::vector<double> class_scores(const float* logits, int64_t c, const std::string& problem_type) {
  std::vector<double> p(static_cast<size_t>(c));
  if (problem_type == "regression") {
    for (int64_t k = 0; k < c; ++k) p[k] = logits[k];
    return p;
  }
  if (problem_type == "multi_label_classification") {
    for (int64_t k = 0; k < c; ++k) p[k] = 1.0 / (1.0 + std::exp(-static_cast<double>(logits[k])));
    return p;
  }
  double mx = logits[0], sum = 0;
  for (int64_t k = 1; k < c; ++k) mx = std::max(mx, static_cast<double>(logits[k]));
  for (int64_t k = 0; k < c; ++k) sum += p[k] = std::exp(static_cast<double>(logits[k]) - mx);
  for (double& v : p) v /= sum;
  return p;
}

io::Json prediction_json(const float* logits, int64_t c, const std::vector<std::string>& names,
                         const std::string& problem_type, bool raw_scores) {
  std::vector<double> s = raw_scores ? std::vector<double>(logits, logits + c) : class_scores(logits, c, problem_type);
  auto name = [&](int64_t k) { return k < static_cast<int64_t>(names.size()) ? names[k] : cat("LABEL_", k); };
  std::vector<int64_t> order(static_cast<size_t>(c));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return s[x] > s[y]; });
  io::Json out = io::Json::array();
  for (int64_t k : order) out.push_back(io::Json{{"label", name(k)}, {"score", s[k]}});
  return out;
}

std::string error_json(const ApiError& e) {
  return nlohmann::json{{"error", e.message}, {"error_type", e.type}}.dump(-1, ' ', false,
                                                                           nlohmann::json::error_handler_t::replace);
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Every byte of the longer string is looked at whatever the contents; only the lengths leak.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

}  // namespace ft::cli
