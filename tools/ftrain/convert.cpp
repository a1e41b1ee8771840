// ftrain convert --gguf_file FILE --output_dir DIR: a GGUF model (llama.cpp's format) as a Hugging
// Face directory that ftrain and transformers load (models/llama/convert_gguf.h).
#include <cstdio>
#include <memory>
#include <string>

#include "models/llama/convert_gguf.h"
#include "tools/ftrain/commands.h"

namespace ft::cli {

void add_convert(CLI::App& app) {
  auto* cmd = app.add_subcommand("convert", "Convert a GGUF model (llama architecture) to a Hugging Face directory");
  auto gguf = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("--gguf_file", *gguf, "the .gguf file")->required();
  cmd->add_option("--output_dir", *out, "the Hugging Face directory to write")->required();
  cmd->callback([gguf, out] {
    const models::GgufConversion c = models::convert_gguf(*gguf, *out);
    std::printf("converted %s (%s, %s): %lld tensors, %lld parameters, vocabulary %lld -> %s\n", gguf->c_str(),
                c.architecture.c_str(), c.name.c_str(), static_cast<long long>(c.tensors),
                static_cast<long long>(c.parameters), static_cast<long long>(c.vocab_size), out->c_str());
  });
}

}  // namespace ft::cli
