#!/usr/bin/env python3
"""The peer of `ftrain serve` in bench/serve_load.sh: the same fine-tuned model served the way a
transformers user would, a text-classification pipeline behind FastAPI + uvicorn, answering TEI's
/predict body ({"inputs": text or [texts]}) with every label's score, highest first.
  python bench/serve_peer.py MODEL_DIR PORT
"""
import sys

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import pipeline

model_dir, port = sys.argv[1], int(sys.argv[2])
torch.set_grad_enabled(False)
classifier = pipeline("text-classification", model=model_dir, tokenizer=model_dir, device="cpu", top_k=None,
                      truncation=True, max_length=128)
app = FastAPI()


class Request(BaseModel):
    inputs: str | list[str]


@app.get("/health")
def health():
    return {"status": "ok"}


@app.post("/predict")
def predict(req: Request):  # a plain def: FastAPI runs it on its thread pool
    out = classifier(req.inputs)
    return out if isinstance(req.inputs, list) else out[0]


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
