#!/usr/bin/env python3
"""LoRA goldens written by PEFT (0.21.2, transformers 5.23.0), evaluated in f64, for ftrain's LoRA:
  - bert_all_linear: a tiny BertForSequenceClassification (2 layers, hidden 32, 4 heads, FFN 40,
    3 labels) with PEFT's SEQ_CLS LoRA on all-linear (r 4, alpha 8: every query/key/value, attention
    output, intermediate and output dense, and the pooler; the classifier is a module to save), on a
    right-padded batch, eval mode;
  - bert_dropout_rslora: the same model with query/value/intermediate.dense targets, lora_dropout 0.2,
    use_rslora, in train mode with every other dropout at 0, on an unpadded batch;
  - llama_all_linear: a tiny LlamaForCausalLM (2 layers, hidden 32, 4 heads / 2 key-value heads, tied
    embeddings) with CAUSAL_LM LoRA on all-linear (r 4, alpha 16), right-padded batch, eval mode;
  - llama_dropout: q_proj/v_proj (PEFT's default), r 8, alpha 16, lora_dropout 0.1, train mode;
  - gpt2_all_linear: a tiny GPT2LMHeadModel (2 layers, n_embd 32) with all-linear on its Conv1D layers
    (c_attn, attn.c_proj, c_fc, mlp.c_proj; fan_in_fan_out), r 4, alpha 8, eval mode.
With dropout, each adapter's dropout is replaced by one that draws its 0/1 mask once and keeps it
(mask.<module path> in the fixture): the test feeds the same masks to ftrain. PEFT's lora_B is zero at
initialisation, which would leave lora_A without a gradient, so every lora_B is redrawn N(0, 0.3)
(and lora_A is spread to U(-0.5, 0.5)) after get_peft_model.
Each fixture (tests/golden/fixtures/lora_<name>.safetensors) holds:
  w.<name>        the base model's weights (as transformers saves them),
  a.<key>         PEFT's adapter_model.safetensors, written by save_pretrained (adapter_config.json is the
                  metadata's "adapter_config", the base config.json its "config"),
  inputs, labels, logits, loss,
  grad.<name>     every trainable parameter's gradient under ftrain's names (<path>.lora_A.weight,
                  classifier.weight), grad32.<name> PyTorch's own f32 gradients,
  step1.<name>    every trainable parameter after one torch.optim.AdamW step (lr 1e-2, weight decay 0.01),
  merged.<name>   merge_and_unload's weights of every adapted module (eval cases).
Run in the generator venv."""
import copy
import json
import os
import tempfile

import torch
from peft import LoraConfig, TaskType, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import (BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel, LlamaConfig,
                          LlamaForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))


class FedDropout(torch.nn.Module):
    """nn.Dropout whose mask is drawn at the first call and kept (so the fixture can record it)."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.mask = None

    def forward(self, x):
        if not self.training:
            return x
        if self.mask is None:
            self.mask = (torch.rand(x.shape) >= self.p).to(torch.float64)
        return x * self.mask.to(x.dtype) / (1 - self.p)


def bert():
    return BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      intermediate_size=40, max_position_embeddings=64, num_labels=3,
                      problem_type="single_label_classification", attn_implementation="eager",
                      hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def llama():
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, rope_theta=10000.0, tie_word_embeddings=True,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2, rms_norm_eps=1e-6)
    cfg._attn_implementation = "eager"
    return cfg


def gpt2():
    cfg = GPT2Config(vocab_size=97, n_embd=32, n_layer=2, n_head=4, n_positions=64, resid_pdrop=0.0, embd_pdrop=0.0,
                     attn_pdrop=0.0, bos_token_id=1, eos_token_id=2)
    cfg._attn_implementation = "eager"
    return cfg


CASES = {
    "bert_all_linear": (BertForSequenceClassification, bert, dict(
        task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear"), False),
    "bert_dropout_rslora": (BertForSequenceClassification, bert, dict(
        task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, lora_dropout=0.2, use_rslora=True,
        target_modules=["query", "value", "intermediate.dense"]), True),
    "llama_all_linear": (LlamaForCausalLM, llama, dict(
        task_type=TaskType.CAUSAL_LM, r=4, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear"), False),
    "llama_dropout": (LlamaForCausalLM, llama, dict(
        task_type=TaskType.CAUSAL_LM, r=8, lora_alpha=16, lora_dropout=0.1), True),
    "gpt2_all_linear": (GPT2LMHeadModel, gpt2, dict(
        task_type=TaskType.CAUSAL_LM, r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear",
        fan_in_fan_out=True), False),
}


def ours(peft_name):
    """base_model.model.X.lora_A.default.weight -> X.lora_A.weight; ...modules_to_save.default.Y -> ...Y."""
    n = peft_name.removeprefix("base_model.model.")
    return n.replace(".lora_A.default.", ".lora_A.").replace(".lora_B.default.", ".lora_B.").replace(
        ".modules_to_save.default.", ".")


def run(pm, inputs, labels):
    out = pm(**inputs, labels=labels)
    out.loss.backward()
    return out


def main():
    for k, (name, (cls, make_cfg, lora, dropout)) in enumerate(CASES.items()):
        torch.manual_seed(700 + k)
        cfg = make_cfg()
        base = cls(cfg)
        # Spread the weights beyond N(0, 0.02) so every path carries signal; BERT's to 0.2 only: at 0.3
        # its attention scores saturate the softmax and the query/key gradients become ill-conditioned
        # (PyTorch's own f32 gradients there are 1.1e-5 from f64, ftrain's 3e-5).
        spread = 0.2 if cls is BertForSequenceClassification else 0.3
        with torch.no_grad():
            for n, p in base.named_parameters():
                if "norm" in n.lower() or ".ln_" in n:
                    p.add_(torch.randn_like(p) * 0.1)
                else:
                    p.normal_(0, spread if p.dim() == 2 else 0.1)
        base_weights = {n: p.detach().clone() for n, p in base.state_dict().items()}
        pm = get_peft_model(base, LoraConfig(**lora))
        with torch.no_grad():
            for n, p in pm.named_parameters():
                if ".lora_B." in n:
                    p.normal_(0, 0.3)
                elif ".lora_A." in n:
                    p.uniform_(-0.5, 0.5)
        targeted = sorted(n.removeprefix("base_model.model.").removesuffix(".lora_A.default.weight")
                          for n, _ in pm.named_parameters() if n.endswith(".lora_A.default.weight"))
        if dropout:
            for mod in pm.modules():
                if hasattr(mod, "lora_dropout") and "default" in mod.lora_dropout:
                    mod.lora_dropout["default"] = FedDropout(lora["lora_dropout"])
        with tempfile.TemporaryDirectory() as d:
            pm.save_pretrained(d)
            adapter = load_file(os.path.join(d, "adapter_model.safetensors"))
            with open(os.path.join(d, "adapter_config.json")) as f:
                adapter_config = json.load(f)
        adapter_config["base_model_name_or_path"] = None
        if isinstance(adapter_config["target_modules"], list):  # a set in PEFT: its order follows the hash seed
            adapter_config["target_modules"] = sorted(adapter_config["target_modules"])
        pm = pm.double()
        pm.train(dropout)
        if cls is BertForSequenceClassification:
            ids = torch.randint(1, 99, (3, 7))
            mask = torch.ones(3, 7, dtype=torch.int64)
            if not dropout:  # right padding (ftrain then computes only the attended rows)
                mask[1, 5:] = 0
                mask[2, 3:] = 0
            ids = ids * mask
            types = torch.zeros(3, 7, dtype=torch.int64)
            types[0, 4:] = 1
            inputs = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            labels = torch.tensor([2, 0, 1])
        else:
            ids = torch.randint(3, 97, (3, 9))
            mask = torch.ones(3, 9, dtype=torch.int64)
            if not dropout:
                mask[1, 6:] = 0
                mask[2, 8:] = 0
            ids = torch.where(mask == 1, ids, torch.zeros_like(ids))
            inputs = {"input_ids": ids, "attention_mask": mask}
            labels = torch.where(mask == 1, ids, torch.full_like(ids, -100))
        out = run(pm, inputs, labels)
        fx = dict(inputs)
        fx.update({"labels": labels, "logits": out.logits.detach(), "loss": out.loss.detach().reshape(())})
        for n, t in base_weights.items():
            fx["w." + n] = t
        for n, t in adapter.items():
            fx["a." + n] = t
        trainable = [(n, p) for n, p in pm.named_parameters() if p.requires_grad]
        for n, p in trainable:
            fx["grad." + ours(n)] = p.grad.detach().clone()
        # One AdamW step on the trainable tensors (lr 1e-2, weight decay 0.01 on all: the test's setting).
        before = {n: p.detach().clone() for n, p in trainable}
        torch.optim.AdamW([p for _, p in trainable], lr=1e-2, weight_decay=0.01).step()
        with torch.no_grad():
            for n, p in trainable:
                fx["step1." + ours(n)] = p.detach().clone()
                p.copy_(before[n])
        pm32 = copy.deepcopy(pm).float()  # the same masks
        pm32.zero_grad()
        run(pm32, inputs, labels)
        for n, p in pm32.named_parameters():
            if p.requires_grad:
                fx["grad32." + ours(n)] = p.grad.detach().clone()
        if dropout:
            for mname, mod in pm.named_modules():
                if hasattr(mod, "lora_dropout") and "default" in mod.lora_dropout:
                    fx["mask." + mname.removeprefix("base_model.model.")] = mod.lora_dropout["default"].mask
        else:
            merged = copy.deepcopy(pm).merge_and_unload()
            sd = merged.state_dict()
            for t in targeted:
                fx["merged." + t + ".weight"] = sd[t + ".weight"].detach().clone()
        config = cfg.to_dict()
        config["architectures"] = [cls.__name__]
        save_file({n: v.contiguous() for n, v in fx.items()}, os.path.join(HERE, "fixtures", f"lora_{name}.safetensors"),
                  metadata={"format": "pt", "config": json.dumps(config), "adapter_config": json.dumps(adapter_config),
                            "targeted": json.dumps(targeted)})
        print(name, float(out.loss), len(targeted), "adapted modules,", len(trainable), "trainable tensors")


if __name__ == "__main__":
    main()
