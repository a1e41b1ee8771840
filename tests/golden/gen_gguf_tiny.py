#!/usr/bin/env python3
"""Tiny llama-architecture GGUF files for `ftrain convert`'s tests, written with the gguf PyPI package
(0.19.0) as llama.cpp's converter writes them (Q/K rows permuted per head), and what transformers'
GGUF loader (5.23.0) makes of them:
- tiny_llama.gguf: 2 layers, hidden 64, 4 heads / 2 key-value heads, FFN 256, a byte-level BPE
  vocabulary of 3 control tokens, the 256 byte symbols and 12 merges, tied embeddings; tensors in
  every type ftrain dequantises (token embedding Q8_0, q/k Q4_1, v Q4_0, o F16, gate BF16, up Q4_1,
  down Q8_0, norms F32);
- tiny_llama_reference.safetensors: the state dict transformers loads from it (dequantised, Q/K
  un-permuted): what the converted model.safetensors must equal bit for bit;
- tiny_llama_q4k.gguf: the same with blk.1.ffn_down in Q4_K, a type ftrain does not convert.
Run in the generator venv."""
import os
import tempfile

import numpy as np
import torch
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter, quants
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
HIDDEN, HEADS, KV_HEADS, FFN, LAYERS = 64, 4, 2, 256, 2


def byte_symbols():
    """GPT-2's byte-to-symbol table: printable bytes stand for themselves, the rest map to 256 + n."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return [table[b] for b in range(256)]


def vocabulary():
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + byte_symbols()
    merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s", "r e", "Ġ w", "a t", "e n"]
    tokens += [m.replace(" ", "") for m in merges]
    types = [3, 3, 3] + [1] * (len(tokens) - 3)
    return tokens, merges, types


def permute(w, heads):
    """llama.cpp's convert_hf_to_gguf permutation of q_proj/k_proj rows."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write(path, q4k):
    rng = np.random.default_rng(20261202)
    tokens, merges, types = vocabulary()
    w = GGUFWriter(path, "llama")
    w.add_name("tiny llama")
    w.add_block_count(LAYERS)
    w.add_context_length(128)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(HIDDEN // HEADS)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(2)
    w.add_add_bos_token(False)

    def tensor(name, shape, qtype, scale=0.08):
        data = (rng.standard_normal(shape) * scale).astype(np.float32)
        if name.endswith("attn_q.weight"):
            data = permute(data, HEADS)
        elif name.endswith("attn_k.weight"):
            data = permute(data, KV_HEADS)
        if qtype in (Q.F32,):
            w.add_tensor(name, data)
        elif qtype == Q.F16:
            w.add_tensor(name, data.astype(np.float16))
        elif qtype == Q.Q4_K:  # gguf-py cannot quantise to it; its bytes only need the right size
            raw = rng.integers(0, 256, quants.quant_shape_to_byte_shape(shape, qtype), dtype=np.uint8)
            w.add_tensor(name, raw, raw_dtype=qtype)
        else:
            w.add_tensor(name, quants.quantize(data, qtype), raw_dtype=qtype)

    tensor("token_embd.weight", (len(tokens), HIDDEN), Q.Q8_0)
    for i in range(LAYERS):
        b = f"blk.{i}."
        tensor(b + "attn_norm.weight", (HIDDEN,), Q.F32, 1.0)
        tensor(b + "ffn_norm.weight", (HIDDEN,), Q.F32, 1.0)
        tensor(b + "attn_q.weight", (HIDDEN, HIDDEN), Q.Q4_1)
        tensor(b + "attn_k.weight", (HIDDEN // HEADS * KV_HEADS, HIDDEN), Q.Q4_1)
        tensor(b + "attn_v.weight", (HIDDEN // HEADS * KV_HEADS, HIDDEN), Q.Q4_0)
        tensor(b + "attn_output.weight", (HIDDEN, HIDDEN), Q.F16)
        tensor(b + "ffn_gate.weight", (FFN, HIDDEN), Q.BF16)
        tensor(b + "ffn_up.weight", (FFN, HIDDEN), Q.Q4_1)
        tensor(b + "ffn_down.weight", (HIDDEN, FFN), Q.Q4_K if (q4k and i == 1) else Q.Q8_0)
    tensor("output_norm.weight", (HIDDEN,), Q.F32, 1.0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    path = os.path.join(OUT, "tiny_llama.gguf")
    write(path, q4k=False)
    write(os.path.join(OUT, "tiny_llama_q4k.gguf"), q4k=True)
    model = AutoModelForCausalLM.from_pretrained(OUT, gguf_file="tiny_llama.gguf", dtype=torch.float32)
    sd = {k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(sd, os.path.join(OUT, "tiny_llama_reference.safetensors"))
    print(f"{path}: {os.path.getsize(path)} bytes, reference {len(sd)} tensors")


if __name__ == "__main__":
    main()
