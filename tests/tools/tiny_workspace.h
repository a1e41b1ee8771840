// A tiny random BERT and a small text data set for Trainer tests (test_trainer.cpp and the
// data-parallel tests): make_workspace writes them, tiny_args trains on them, weights reads a result.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "io/config.h"
#include "io/safetensors.h"
#include "models/bert/bert.h"
#include "tools/ftrain/args.h"
#if defined(FT_TRAINER_CUDA)
#include "core/cuda/cuda_backend.h"
#endif

namespace ft::cli {

// The device the Trainer tests run on: the emulated CUDA device in the FT_TRAINER_CUDA build.
inline Device trainer_device() {
#if defined(FT_TRAINER_CUDA)
  FT_CHECK(install_cuda_backend(), "the CUDA backend did not start");
  return Device(DeviceType::cuda, 0);
#else
  return kCPU;
#endif
}

inline const std::vector<std::string> kWords = {"good", "great", "fun", "moving", "bad", "awful", "boring", "dull",
                                         "the", "film", "plot", "acting", "was", "and", "very", "a"};

// A tiny random BERT directory (config.json, model.safetensors without a head, vocab.txt) and
// train.csv: 40 short reviews whose label follows the sentiment words in them.
// vocab_short: the model's vocabulary that many entries shorter than the tokenizer's (a mismatch).
inline std::string make_workspace(const std::string& name, double dropout, int64_t vocab_short = 0) {
  const std::string dir = std::filesystem::temp_directory_path().string() + "/ft_trainer_" + name + "_" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/model");
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  vocab.insert(vocab.end(), kWords.begin(), kWords.end());
  {
    std::ofstream v(dir + "/model/vocab.txt");
    for (const std::string& w : vocab) v << w << "\n";
    std::ofstream(dir + "/model/tokenizer_config.json") << R"({"do_lower_case": true})";
  }
  io::Json cfg = {{"model_type", "bert"}, {"vocab_size", static_cast<int64_t>(vocab.size()) - vocab_short}, {"hidden_size", 32}, {"num_hidden_layers", 2},
                  {"num_attention_heads", 4}, {"intermediate_size", 48}, {"max_position_embeddings", 32},
                  {"hidden_dropout_prob", dropout}, {"attention_probs_dropout_prob", dropout}};
  io::write_json(dir + "/model/config.json", cfg);
  Generator gen(3);
  models::BertModel bert(io::BertConfig::from_json(cfg, "tiny"), &gen);
  std::map<std::string, Tensor> w;
  for (auto& [n, p] : bert.named_parameters()) w[n] = p.detach();
  io::write_safetensors(dir + "/model/model.safetensors", w, {{"format", "pt"}});
  std::ofstream csv(dir + "/train.csv");
  csv << "text,label\n";
  for (int i = 0; i < 40; ++i) {
    const bool pos = (i * 7) % 3 != 0;
    std::string text = "the film was ";
    text += kWords[(pos ? 0 : 4) + i % 4];
    text += i % 2 ? " and very " + kWords[(pos ? 0 : 4) + (i / 4) % 4] : " a " + kWords[10 + i % 2];
    csv << text << "," << (pos ? "positive" : "negative") << "\n";
  }
  return dir;
}

inline TrainArgs tiny_args(const std::string& ws, const std::string& out) {
  TrainArgs a;
  a.model_name_or_path = ws + "/model";
  a.train_file = ws + "/train.csv";
  a.output_dir = ws + "/" + out;
  a.per_device_train_batch_size = 4;
  a.learning_rate = 1e-3;
  a.max_seq_length = 32;
  a.logging_steps = 3;
  a.save_strategy = "no";
  a.seed = 7;
  a.quiet = true;
  return a;
}

inline std::map<std::string, Tensor> weights(const std::string& dir) {
  return io::read_safetensors(dir + "/model.safetensors").tensors;
}

}  // namespace ft::cli
