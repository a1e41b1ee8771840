"""Loads a directory saved by `ftrain train` with transformers (BertForSequenceClassification and its
tokenizer, or ResNetForImageClassification and its preprocessor config), predicts the inputs listed in
what `ftrain predict` wrote (the `text` or `image` column), and compares: every predicted label must
agree and every class probability must match to 1e-3; with JSON-lines predictions the logits are
compared too. The model is computed in f32 as `ftrain predict` computes it, whatever dtype the weights
were saved in (--save_dtype bf16/fp16: the dtype transformers reads from config.json is printed). Prints transformers' accuracy when the
predictions carry the true labels.

Usage (a venv with torch and transformers: tools/setup_generator_env.sh):
  ftrain predict --model_name_or_path DIR --test_file DATA.csv --output_file PRED.jsonl   (or --test_dir, .csv)
  HF_HUB_OFFLINE=1 python tools/check_hf_predictions.py DIR PRED.csv
"""
import csv
import json
import sys

import numpy as np
import torch
from PIL import Image


def read_predictions(path):
    if path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        for r in rows:  # the CSV's columns, from the JSON fields
            for name, p in r["probabilities"].items():
                r["prob_" + name] = p
        return rows
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def saved_dtype(model_dir):
    with open(f"{model_dir}/config.json", encoding="utf-8") as f:
        return json.load(f).get("dtype", "float32")


def text_probabilities(model_dir, texts):
    from transformers import AutoTokenizer, BertForSequenceClassification
    model = BertForSequenceClassification.from_pretrained(model_dir, attn_implementation="eager",
                                                          dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), 64):
            enc = tok(texts[start:start + 64], padding=True, truncation=True, max_length=128, return_tensors="pt")
            out.append(model(**enc).logits)
    return model, torch.cat(out)


def image_probabilities(model_dir, paths):
    from transformers import ResNetForImageClassification
    model = ResNetForImageClassification.from_pretrained(model_dir, dtype=torch.float32).eval()
    with open(f"{model_dir}/preprocessor_config.json") as f:
        pre = json.load(f)
    assert not pre.get("do_resize"), "this check applies the saved normalisation only (no resize)"
    mean, std = np.array(pre["image_mean"]), np.array(pre["image_std"])
    out = []
    with torch.no_grad():
        for start in range(0, len(paths), 128):
            arrs = [(np.asarray(Image.open(p).convert("RGB"), dtype=np.float64) * pre["rescale_factor"] - mean) / std
                    for p in paths[start:start + 128]]
            x = torch.tensor(np.stack(arrs).transpose(0, 3, 1, 2), dtype=torch.float32)
            out.append(model(pixel_values=x).logits)
    return model, torch.cat(out)


def main() -> int:
    model_dir, pred_csv = sys.argv[1:3]
    ours = read_predictions(pred_csv)
    column = "image" if "image" in ours[0] else "text"
    inputs = [r[column] for r in ours]
    model, logits = (image_probabilities if column == "image" else text_probabilities)(model_dir, inputs)
    prob = torch.softmax(logits, dim=-1)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    agree, max_diff, correct = 0, 0.0, 0
    for i, o in enumerate(ours):
        hf_label = names[int(prob[i].argmax())]
        agree += hf_label == o["label"]
        correct += hf_label == o.get("true_label")
        for k, n in enumerate(names):
            max_diff = max(max_diff, abs(float(prob[i, k]) - float(o["prob_" + n])))
    print(f"transformers loaded {model_dir} ({type(model).__name__}): {len(names)} labels, "
          f"problem_type {model.config.problem_type}, saved dtype {saved_dtype(model_dir)} (computed in f32)")
    line = (f"{len(ours)} {column}s: transformers and ftrain agree on {agree} predicted labels; "
            f"max |probability difference| {max_diff:.2e}")
    if "true_label" in ours[0]:
        line += f"; transformers' accuracy {correct / len(ours):.4f}"
    print(line)
    if "logits" in ours[0]:
        theirs = torch.tensor([r["logits"] for r in ours], dtype=torch.float64)
        rel = ((logits.double() - theirs).abs().max() / theirs.abs().max()).item()
        print(f"logits: max |transformers - ftrain| / max |ftrain| = {rel:.3e}")
    return 0 if agree == len(ours) and max_diff <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
