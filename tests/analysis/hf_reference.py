# An independent oracle for the Hugging Face import: the forward of transformers' llama, olmo, olmo2
# and gpt_neox written from their modeling files in float64 torch, reading the HF directory by its own
# tensor names (GPT-NeoX's fused query_key_value viewed as (NH, 3*HS) per head, as modeling_gpt_neox
# does). Usage: hf_reference.py MODEL_DIR IO_JSON, where IO_JSON holds {"inputs": [[..]], "targets":
# [[..]]}; writes {"logprobs": [[..]]} back into IO_JSON's "logprobs" key.
import json
import math
import struct
import sys

import numpy as np
import torch

DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] not in DTYPES:
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=DTYPES[info["dtype"]])
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = torch.from_numpy(arr.astype(np.float64)).reshape(info["shape"])
    return out


def read_weights(model_dir):
    import os
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
        w = {}
        for f in files:
            w.update(read_safetensors(os.path.join(model_dir, f)))
        return w
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


def rms_norm(x, w, eps):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y if w is None else y * w


def layer_norm(x, w, b, eps):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps)


def rope(x, theta, rot):  # x (B, NH, T, HS); rotate-half on the first `rot` dims
    T = x.shape[2]
    inv_freq = 1.0 / (theta ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    xr, xp = x[..., :rot], x[..., rot:]
    half = rot // 2
    rotated = torch.cat((-xr[..., half:], xr[..., :half]), dim=-1)
    return torch.cat((xr * cos + rotated * sin, xp), dim=-1)


def attention(q, k, v, nh, kh):  # q (B, NH, T, HS), k/v (B, KH, T, HS)
    k = k.repeat_interleave(nh // kh, dim=1)
    v = v.repeat_interleave(nh // kh, dim=1)
    T, hs = q.shape[2], q.shape[3]
    s = q @ k.transpose(-1, -2) / math.sqrt(hs)
    s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(s, dim=-1) @ v


def heads(x, n):  # (B, T, n*HS) -> (B, n, T, HS)
    B, T, _ = x.shape
    return x.view(B, T, n, -1).transpose(1, 2)


def merge(x):
    B, n, T, hs = x.shape
    return x.transpose(1, 2).reshape(B, T, n * hs)


def linear(x, w, name):
    y = x @ w[name + ".weight"].T
    return y + w[name + ".bias"] if name + ".bias" in w else y


def forward_llama_family(cfg, w, ids):
    kind = cfg["model_type"]
    nh = cfg["num_attention_heads"]
    kh = cfg.get("num_key_value_heads") or nh
    theta = cfg.get("rope_theta", 10000.0)
    eps = 1e-5 if kind == "olmo" else cfg.get("rms_norm_eps", 1e-6 if kind == "llama" else 1e-5)
    norm = (lambda x, name: layer_norm(x, None, None, 1e-5)) if kind == "olmo" else (
        lambda x, name: rms_norm(x, w[name + ".weight"], eps))
    clip = cfg.get("clip_qkv") if kind == "olmo" else None
    h = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = h if kind == "olmo2" else norm(h, p + "input_layernorm")
        q, k, v = (linear(x, w, p + f"self_attn.{n}_proj") for n in "qkv")
        if clip:
            q, k, v = (t.clamp(-clip, clip) for t in (q, k, v))
        if kind == "olmo2":
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k, v = heads(q, nh), heads(k, kh), heads(v, kh)
        hs = q.shape[-1]
        o = linear(merge(attention(rope(q, theta, hs), rope(k, theta, hs), v, nh, kh)), w, p + "self_attn.o_proj")
        h = h + (norm(o, p + "post_attention_layernorm") if kind == "olmo2" else o)
        x = h if kind == "olmo2" else norm(h, p + "post_attention_layernorm")
        gate, up = linear(x, w, p + "mlp.gate_proj"), linear(x, w, p + "mlp.up_proj")
        m = linear(torch.nn.functional.silu(gate) * up, w, p + "mlp.down_proj")
        h = h + (norm(m, p + "post_feedforward_layernorm") if kind == "olmo2" else m)
    x = norm(h, "model.norm")
    head = w["lm_head.weight"] if not cfg.get("tie_word_embeddings", False) else w["model.embed_tokens.weight"]
    return x @ head.T


def forward_gpt_neox(cfg, w, ids):
    nh = cfg["num_attention_heads"]
    eps = cfg.get("layer_norm_eps", 1e-5)
    hs = cfg["hidden_size"] // nh
    rot = int(hs * cfg.get("rotary_pct", 0.25))
    theta = cfg.get("rotary_emb_base", 10000)
    ln = lambda x, name: layer_norm(x, w[name + ".weight"], w[name + ".bias"], eps)
    h = w["gpt_neox.embed_in.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{i}."
        qkv = linear(ln(h, p + "input_layernorm"), w, p + "attention.query_key_value")
        B, T, _ = qkv.shape
        qkv = qkv.view(B, T, nh, 3 * hs)  # modeling_gpt_neox: per head [q | k | v]
        q, k, v = (qkv[..., j * hs:(j + 1) * hs].permute(0, 2, 1, 3) for j in range(3))
        att = linear(merge(attention(rope(q, theta, rot), rope(k, theta, rot), v, nh, nh)), w, p + "attention.dense")
        mlp = lambda x: linear(torch.nn.functional.gelu(linear(x, w, p + "mlp.dense_h_to_4h")), w,
                               p + "mlp.dense_4h_to_h")
        if cfg.get("use_parallel_residual", True):
            h = h + att + mlp(ln(h, p + "post_attention_layernorm"))
        else:
            h = h + att
            h = h + mlp(ln(h, p + "post_attention_layernorm"))
    x = ln(h, "gpt_neox.final_layer_norm")
    head = w["gpt_neox.embed_in.weight"] if cfg.get("tie_word_embeddings", False) else w["embed_out.weight"]
    return x @ head.T


def main():
    model_dir, io_path = sys.argv[1], sys.argv[2]
    cfg = json.load(open(model_dir + "/config.json"))
    io = json.load(open(io_path))
    w = read_weights(model_dir)
    ids, targets = torch.tensor(io["inputs"]), torch.tensor(io["targets"])
    fwd = forward_gpt_neox if cfg["model_type"] == "gpt_neox" else forward_llama_family
    logits = fwd(cfg, w, ids)
    lp = torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    io["logprobs"] = lp.tolist()
    json.dump(io, open(io_path, "w"))


if __name__ == "__main__":
    main()
