#!/usr/bin/env python3
"""Tiny random causal LMs written by transformers (5.23.0), evaluated in f64, for ftrain's goldens:
  - llama_gqa_tied: LlamaForCausalLM, 2 layers, hidden 32, 4 heads / 2 key-value heads (GQA), FFN 48,
    vocab 97, tied embeddings, rope_theta 10000;
  - llama_mha_bias: 4 heads / 4 key-value heads, attention biases, untied head, rope_theta 500000;
  - gpt2: GPT2LMHeadModel, 2 layers, n_embd 32, 4 heads, gelu_new, tied head.
Each fixture (tests/golden/fixtures/causal_<name>.safetensors, config.json in the metadata) holds the
weights, a batch of 3 sequences of 9 tokens (two right-padded), labels (-100 where
padded), the logits, the loss (labels shifted inside, as ForCausalLMLoss) and every parameter
gradient, plus PyTorch's own f32 gradients (grad32.*). Dropout off. Run in the generator venv."""
import json
import os

import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIGS = {
    "llama_gqa_tied": (LlamaForCausalLM, LlamaConfig(
        vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, rope_theta=10000.0, tie_word_embeddings=True,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, rms_norm_eps=1e-6)),
    "llama_mha_bias": (LlamaForCausalLM, LlamaConfig(
        vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=64, rope_theta=500000.0, tie_word_embeddings=False,
        attention_bias=True, pad_token_id=0, bos_token_id=1, eos_token_id=2, rms_norm_eps=1e-5)),
    "gpt2": (GPT2LMHeadModel, GPT2Config(
        vocab_size=97, n_embd=32, n_layer=2, n_head=4, n_positions=64, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, bos_token_id=1, eos_token_id=2)),
}


def main():
    for k, (name, (cls, cfg)) in enumerate(CONFIGS.items()):
        torch.manual_seed(300 + k)
        cfg._attn_implementation = "eager"
        model = cls(cfg).eval()
        # Spread the weights beyond the default N(0, 0.02) so every path carries signal.
        with torch.no_grad():
            for n, p in model.named_parameters():
                if "norm" in n or "ln_" in n:
                    p.add_(torch.randn_like(p) * 0.1)
                elif p.dim() >= 1:
                    p.normal_(0, 0.3 if p.dim() == 2 else 0.1)
        model = model.double()
        ids = torch.randint(3, 97, (3, 9))
        mask = torch.ones(3, 9, dtype=torch.int64)
        mask[1, 6:] = 0  # right padding
        mask[2, 8:] = 0  # (left padding makes transformers' eager Llama NaN: fully masked rows)
        ids = torch.where(mask == 1, ids, torch.zeros_like(ids))
        labels = torch.where(mask == 1, ids, torch.full_like(ids, -100))
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()
        fx = {"input_ids": ids, "attention_mask": mask, "labels": labels, "logits": out.logits.detach(),
              "loss": out.loss.detach().reshape(())}
        for n, p in model.named_parameters():
            fx["w." + n] = p.detach().clone()
            fx["grad." + n] = p.grad.detach().clone()
        m32 = cls(cfg).eval()
        m32.load_state_dict({n: p.detach().float() for n, p in model.named_parameters()}, strict=False)
        m32.tie_weights()
        m32(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        for n, p in m32.named_parameters():
            fx["grad32." + n] = p.grad.detach().clone()
        config = cfg.to_dict()
        config["architectures"] = [cls.__name__]
        save_file({n: v.contiguous() for n, v in fx.items()},
                  os.path.join(HERE, "fixtures", f"causal_{name}.safetensors"),
                  metadata={"format": "pt", "config": json.dumps(config)})
        print(name, float(out.loss.detach()), sorted(n for n, _ in model.named_parameters())[:3])


if __name__ == "__main__":
    main()
