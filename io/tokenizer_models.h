// The tokenizer families' models (io/wordpiece.cpp, io/bpe.cpp) as io/tokenizer.cpp builds them, and
// the UTF-8 helpers they share. Internal to io/.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/tokenizer.h"

namespace ft::io {

// UTF-8 through utf8proc; an invalid byte decodes to U+FFFD, as a lossy decode gives.
std::u32string decode_utf8(const std::string& s);
std::string encode_utf8(const std::u32string& s);

// WordPiece with BertNormalizer and BertPreTokenizer. From a vocabulary (BERT's defaults: unk [UNK],
// prefix ##), or from a tokenizer.json's model and normalizer.
std::shared_ptr<TokenModel> wordpiece_model(const std::vector<std::string>& vocab, bool lowercase);
std::shared_ptr<TokenModel> wordpiece_model(const nlohmann::json& j, const std::string& json_path);
// A copy with BertNormalizer's strip_accents changed (an error for a model that is not WordPiece).
std::shared_ptr<TokenModel> with_strip_accents(const TokenModel& m, bool strip);

// Byte-level BPE from a tokenizer.json: the model (vocab, merges as "a b" strings or [a, b] pairs),
// the pre-tokenizer (ByteLevel, or a Sequence of Digits and ByteLevel) and the decoder (ByteLevel).
std::shared_ptr<TokenModel> bpe_model(const nlohmann::json& j, const std::string& json_path);

}  // namespace ft::io
