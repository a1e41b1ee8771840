// The real SmolLM2-135M-Instruct, converted from its GGUF file by `ftrain convert` (tools/fetch_data.sh),
// against transformers' own GGUF load of the same file (tests/golden/gen_smollm2_reference.py): the
// logits at the last position of 8 prompts within 1e-4 relative, and greedy generation of 32 tokens
// from 4 prompts token for token.
#include <gtest/gtest.h>

#include <cstdio>

#include "core/ops.h"
#include "models/common/causal_lm.h"
#include "models/common/generate.h"
#include "tests/common/test_util.h"

namespace ft::models {
namespace {

TEST(SmolLM2, ConvertedModelMatchesTransformersGgufLoad) {
  const std::string dir = test::data_dir() + "/smollm2/hf";
  const io::SafetensorsFile fx = io::read_safetensors(std::string(FT_FIXTURES_DIR) + "/smollm2_reference.safetensors");
  auto model = make_causal_lm(io::read_json(dir + "/config.json"), dir);
  EXPECT_EQ(load_causal_lm(*model, io::SafetensorsReader(dir + "/model.safetensors")), "");
  model->eval();
  NoGradGuard ng;
  double worst = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string p = "prompt" + std::to_string(i);
    const Tensor ids = fx.tensors.at(p + ".ids");
    const Tensor last = model->forward(ids.unsqueeze(0), Tensor(), nullptr, nullptr, true).reshape({-1});
    const double e = test::rel_error(last, fx.tensors.at(p + ".last_logits"));
    worst = std::max(worst, e);
    EXPECT_LE(e, 1e-4) << p;
    if (!fx.tensors.count(p + ".greedy")) continue;
    GenerationConfig gc;
    gc.max_new_tokens = 32;
    gc.eos_token_ids = {2};
    const std::vector<int64_t> got = generate(*model, ids.to_vector<int64_t>(), gc, kCPU);
    EXPECT_EQ(got, fx.tensors.at(p + ".greedy").to_vector<int64_t>()) << p;
  }
  std::printf("[smollm2] last-position logits of 8 prompts: max relative error %.3e\n", worst);
}

}  // namespace
}  // namespace ft::models
