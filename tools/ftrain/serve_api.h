// ftrain serve's wire format, kept apart from the server so that it can be tested and fuzzed alone:
// decoding a /predict request (Hugging Face text-embeddings-inference's shape) and encoding its
// answer and errors. Nothing here touches the model or the network.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/config.h"
#include "tools/ftrain/task.h"

namespace ft::cli {

// An answer that is an error: the HTTP status, TEI's error_type and the message.
struct ApiError {
  int status = 400;
  std::string type = "Validation";
  std::string message;
};

struct PredictRequest {
  std::vector<RawInput> inputs;
  bool batch = false;       // "inputs" was a list: the answer is a list per input
  bool raw_scores = false;  // logits instead of probabilities
  bool truncate = true;     // false: an input over the maximum length is an error (413)
};

// The body of POST /predict as JSON: {"inputs": "text" | ["a", "b"] | [["premise", "hypothesis"]],
// "raw_scores": false, "truncate": true}; for an image model the strings are base64-encoded image
// files. Returns false and fills `err` (400, naming what is wrong and where) for anything else:
// malformed JSON, a wrong type, an empty list, a pair that is not two strings, bad base64.
bool parse_predict_json(const std::string& body, bool images, PredictRequest& out, ApiError& err);

// Standard base64 (RFC 4648, padding optional, whitespace ignored); false on any other character.
bool base64_decode(const std::string& in, std::string& out);

// The scores predict reports for a row of logits: softmax (single-label), sigmoid (multi-label) or
// the value (regression).
std::vector<double> class_scores(const float* logits, int64_t c, const std::string& problem_type);

// One input's answer: [{"label": ..., "score": ...}, ...] over every class, highest score first
// (raw_scores: the logits as scores). Regression: [{"label": <the label name>, "score": value}].
io::Json prediction_json(const float* logits, int64_t c, const std::vector<std::string>& names,
                         const std::string& problem_type, bool raw_scores);

// {"error": ..., "error_type": ...}
std::string error_json(const ApiError& e);

// a == b without a timing difference that depends on where they first differ (API keys).
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace ft::cli
