// GGUF (llama.cpp) to a Hugging Face directory, as transformers' own GGUF loader reads it
// (transformers/integrations/ggml.py and modeling_gguf_pytorch_utils.py; facts only):
// - tensors dequantised to f32 (F32, F16, BF16, Q8_0, Q4_0, Q4_1; any other type is an error naming
//   the tensor and the type, raised before anything is written), renamed from llama.cpp's names
//   (token_embd, blk.N.attn_q, ...) to LlamaForCausalLM's, the Q and K rows un-permuted (llama.cpp's
//   converter interleaves each head's two rotary halves; transformers' reverse_permute undoes it);
// - config.json from the llama.* keys (tie_word_embeddings when there is no output.weight);
// - tokenizer.json from tokenizer.ggml.* (byte-level BPE: tokens, merges, control tokens as special
//   added tokens; the pre-tokenizer that tokenizer.ggml.pre names: "smollm" splits digits one by one
//   before the GPT-2 regex, as SmolLM2's own tokenizer.json does), tokenizer_config.json (the special
//   tokens, add_bos_token, the chat template) and generation_config.json.
#pragma once
#include <string>

namespace ft::models {

struct GgufConversion {
  std::string architecture, name;
  int64_t tensors = 0, parameters = 0, vocab_size = 0;
};

GgufConversion convert_gguf(const std::string& gguf_path, const std::string& output_dir);

}  // namespace ft::models
