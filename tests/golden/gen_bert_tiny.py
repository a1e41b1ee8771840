#!/usr/bin/env python3
"""A tiny random BertForSequenceClassification (2 layers, hidden 32, 4 heads, intermediate 37, vocab 99,
max positions 64) on a padded batch, for each problem type: weights, inputs, labels, logits, loss and
every parameter gradient, in tests/golden/fixtures/bert_tiny_<problem_type>.safetensors. Dropout is off
(eval mode) so the fixture is deterministic. A fourth fixture, bert_tiny_gelu_new, is single-label
classification with hidden_act gelu_new (the tanh GELU) and intermediate size 40 (a multiple of 8, so
ftrain's CUDA backend runs the intermediate layer as one cuBLASLt GELU epilogue). Run in the generator
venv with transformers 5.23.0."""
import os

import torch
from safetensors.torch import save_file
from transformers import BertConfig, BertForSequenceClassification

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = {"single_label_classification": 3, "multi_label_classification": 3, "regression": 1,
         "gelu_new": 3}


def main():
    for k, (ptype, num_labels) in enumerate(TYPES.items()):
        torch.manual_seed(100 + k)
        gelu_new = ptype == "gelu_new"
        if gelu_new:
            ptype = "single_label_classification"
        cfg = BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=40 if gelu_new else 37, max_position_embeddings=64,
                         num_labels=num_labels, problem_type=ptype, attn_implementation="eager",
                         hidden_act="gelu_new" if gelu_new else "gelu")
        # Initialised in f32, evaluated in f64: the fixture holds the exact-arithmetic result that
        # ftrain's f32 run is measured against (an f32 reference would carry its own round-off).
        model = BertForSequenceClassification(cfg).eval().double()
        ids = torch.randint(1, 99, (3, 7))
        mask = torch.ones(3, 7, dtype=torch.int64)
        mask[1, 5:] = 0
        mask[2, 3:] = 0
        ids = ids * mask  # padding id 0 where masked
        types = torch.zeros(3, 7, dtype=torch.int64)
        types[0, 4:] = 1
        if ptype == "single_label_classification":
            labels = torch.tensor([2, 0, 1])
        elif ptype == "multi_label_classification":
            labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
        else:
            labels = torch.tensor([0.5, -1.25, 2.0], dtype=torch.float64)
        out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=labels)
        out.loss.backward()
        fx = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels,
              "logits": out.logits.detach(), "loss": out.loss.detach().reshape(())}
        for n, p in model.named_parameters():
            fx["w." + n] = p.detach().clone()
            fx["grad." + n] = p.grad.detach().clone()
        # PyTorch's own f32 gradients, so the test can tell f32 round-off from error.
        m32 = BertForSequenceClassification(cfg).eval()
        m32.load_state_dict({n: p.detach().float() for n, p in model.named_parameters()}, strict=False)
        lab32 = labels.float() if labels.is_floating_point() else labels
        m32(input_ids=ids, attention_mask=mask, token_type_ids=types, labels=lab32).loss.backward()
        for n, p in m32.named_parameters():
            fx["grad32." + n] = p.grad.detach().clone()
        save_file({k2: v.contiguous() for k2, v in fx.items()},
                  os.path.join(HERE, "fixtures", f"bert_tiny_{'gelu_new' if gelu_new else ptype}.safetensors"),
                  metadata={"format": "pt"})
        print(ptype, float(out.loss.detach()))


if __name__ == "__main__":
    main()
