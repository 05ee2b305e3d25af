#!/usr/bin/python3
"""PyTorch reference of overtrain's OLMo-style decoder: a numerical oracle and a speed baseline.

Written independently of the C++ engine from the architecture spec (issue 2, docs/performance.md):
embedding -> L x [norm -> causal MHA with RoPE (rotate-half) -> residual; norm -> SwiGLU -> residual]
-> final norm -> LM head (tied or untied); RMSNorm with gain or non-parametric LayerNorm; no biases;
mean cross-entropy over targets >= 0. Runs on Debian's python3-torch 1.13 (/usr/bin/python3).

Modes:
  reference.py --parity IN.safetensors OUT.safetensors [--dtype float64|float32]
      IN holds the parameters (HF names), `batch.inputs` / `batch.targets` (B,T) I32 and metadata
      `bench.model` (architecture JSON) and `bench.optim` (AdamW JSON: lr, beta1, beta2, eps,
      weight_decay, decay = [tensor names that get weight decay]). OUT gets `loss` (F32, shape []),
      `grad.<name>` and `step.<name>` (weights after one AdamW step) for every parameter.
  reference.py --optim-parity IN.safetensors OUT.safetensors
      The optimizers other than AdamW, written from their published rules in float64 (tests/bench/
      optim_parity_test.cc). IN holds `param.<name>` and `grad.<k>.<name>` (step k = 0..steps-1) for any
      named tensors and metadata `optim` (JSON: kind sgd|lion|muon, lr, steps, weight_decay, decay = [names
      that decay]; sgd: momentum, nesterov; lion: beta1, beta2; muon: muon_momentum, ns_steps, beta1, beta2,
      eps, matrices = [names Muon orthogonalises]). OUT gets `step.<k>.<name>` (weights after step k), and
      for muon `ns.<k>.<name>`: per Newton-Schulz iteration the norms the float32 error bound needs.
  reference.py --bench --model JSON --batch B --seq T [--threads 2] [--clock wall|cpu]
      Builds the same model in float32 with random weights and tokens, then serves a line protocol on
      stdin/stdout so the caller can alternate with its own timing: `run N` -> one JSON line
      {"step_s": [...]} (each step: zero_grad, forward, backward, AdamW step); `quit` ends.
      Prints {"ready": true, "params": N} once the model is built and warmed up.
"""
import argparse
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------------
# safetensors (the format is small: u64 header length, JSON header, raw little-endian payload)

_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        arr = np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=base + begin)
        tensors[name] = arr.reshape(info["shape"]).copy()
    return tensors, meta


def write_safetensors(path, tensors, meta=None):
    header = {}
    if meta:
        header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    offset = 0
    payload = []
    for name in sorted(tensors):
        arr = np.array(tensors[name], order="C")  # ascontiguousarray would make 0-d arrays 1-d
        code = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}[arr.dtype]
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        payload.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # payload starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in payload:
            f.write(raw)


# ----------------------------------------------------------------------------------------------------
# The model: parameters are a dict name -> tensor with HF/Llama names (same as overtrain's ParamLayout).


def param_shapes(cfg):
    """name -> shape, in HF/Llama naming; linear weights are (out, in)."""
    V, C, F_, L = cfg["vocab_size"], cfg["d_model"], cfg["d_ff"], cfg["n_layers"]
    rms = cfg["norm"] == "rmsnorm"
    shapes = {"model.embed_tokens.weight": (V, C)}
    for i in range(L):
        p = f"model.layers.{i}."
        if rms:
            shapes[p + "input_layernorm.weight"] = (C,)
            shapes[p + "post_attention_layernorm.weight"] = (C,)
        for proj in "qkvo":
            shapes[p + f"self_attn.{proj}_proj.weight"] = (C, C)
        shapes[p + "mlp.gate_proj.weight"] = (F_, C)
        shapes[p + "mlp.up_proj.weight"] = (F_, C)
        shapes[p + "mlp.down_proj.weight"] = (C, F_)
    if rms:
        shapes["model.norm.weight"] = (C,)
    if not cfg["tied_head"]:
        shapes["lm_head.weight"] = (V, C)
    return shapes


def rope_tables(T, head_size, theta, dtype):
    # Rotate-half RoPE: pair i with i + hs/2, angle t * theta^(-2i/hs), i < hs/2 (Llama / GPT-NeoX).
    half = head_size // 2
    inv_freq = 1.0 / (theta ** (torch.arange(0, half, dtype=torch.float64) * 2.0 / head_size))
    angles = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]  # (T, hs/2)
    return torch.cos(angles).to(dtype), torch.sin(angles).to(dtype)


def apply_rope(x, cos, sin):
    # x: (B, NH, T, HS); cos/sin: (T, HS/2)
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def norm(x, weight, cfg):
    eps = cfg["norm_eps"]
    if cfg["norm"] == "rmsnorm":
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight
    return F.layer_norm(x, (x.shape[-1],), eps=eps)  # OLMo's non-parametric LayerNorm


def forward_loss(params, cfg, inputs, targets, rope):
    """Mean cross-entropy (nats) over targets >= 0. inputs/targets: (B, T) int64."""
    B, T = inputs.shape
    C, NH, L = cfg["d_model"], cfg["n_heads"], cfg["n_layers"]
    HS = C // NH
    cos, sin = rope[0][:T], rope[1][:T]
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    rms = cfg["norm"] == "rmsnorm"
    x = F.embedding(inputs, params["model.embed_tokens.weight"])  # (B, T, C)
    for i in range(L):
        p = f"model.layers.{i}."
        h = norm(x, params[p + "input_layernorm.weight"] if rms else None, cfg)
        q = F.linear(h, params[p + "self_attn.q_proj.weight"]).view(B, T, NH, HS).transpose(1, 2)
        k = F.linear(h, params[p + "self_attn.k_proj.weight"]).view(B, T, NH, HS).transpose(1, 2)
        v = F.linear(h, params[p + "self_attn.v_proj.weight"]).view(B, T, NH, HS).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))  # (B, NH, T, T)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(y, params[p + "self_attn.o_proj.weight"])
        h = norm(x, params[p + "post_attention_layernorm.weight"] if rms else None, cfg)
        g = F.linear(h, params[p + "mlp.gate_proj.weight"])
        u = F.linear(h, params[p + "mlp.up_proj.weight"])
        x = x + F.linear(F.silu(g) * u, params[p + "mlp.down_proj.weight"])
    x = norm(x, params["model.norm.weight"] if rms else None, cfg)
    head = params["model.embed_tokens.weight" if cfg["tied_head"] else "lm_head.weight"]
    logits = F.linear(x, head)  # (B, T, V)
    t = targets.clone()
    t[t < 0] = -100
    return F.cross_entropy(logits.view(B * T, -1), t.view(-1), ignore_index=-100)


def make_adamw(params, opt):
    decay = set(opt["decay"])
    groups = [
        {"params": [p for n, p in params.items() if n in decay], "weight_decay": opt["weight_decay"]},
        {"params": [p for n, p in params.items() if n not in decay], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    return torch.optim.AdamW(groups, lr=opt["lr"], betas=(opt["beta1"], opt["beta2"]), eps=opt["eps"],
                             foreach=False)


# ----------------------------------------------------------------------------------------------------
# Optimizers other than AdamW, in float64, from their published rules.

NS_COEFFS = (3.4445, -4.7750, 2.0315)  # Jordan's quintic (github.com/KellerJordan/Muon)


def newton_schulz5(G, steps):
    """Jordan's zeropower_via_newtonschulz5 in float64; also returns, per iteration, the Frobenius norms of
    X, A = XX^T, A^2, B = bA + cA^2, BX, X', of |X||X|^T, |A||A|, |B||X|, and the spectral norms of X, X'."""
    a, b, c = NS_COEFFS
    X = G.double()
    if G.size(0) > G.size(1):
        X = X.T
    X = X / (X.norm() + 1e-7)
    norms = []
    for _ in range(steps):
        A = X @ X.T
        A2 = A @ A
        B = b * A + c * A2
        BX = B @ X
        Xn = a * X + BX
        f = lambda M: M.norm().item()  # noqa: E731
        spectral = lambda M: torch.linalg.matrix_norm(M, ord=2).item()  # noqa: E731
        norms.append([f(X), f(A), f(A2), f(B), f(BX), f(Xn), f(X.abs() @ X.abs().T), f(A.abs() @ A.abs()),
                      f(B.abs() @ X.abs()), spectral(X), spectral(Xn)])
        X = Xn
    if G.size(0) > G.size(1):
        X = X.T
    return X, np.array(norms, dtype=np.float32)


def run_optim_parity(args):
    tensors, meta = read_safetensors(args.optim_parity[0])
    opt = json.loads(meta["optim"])
    names = sorted(n[len("param."):] for n in tensors if n.startswith("param."))
    params = {n: torch.tensor(tensors["param." + n], dtype=torch.float64) for n in names}
    decay = set(opt["decay"])
    lr, wd, kind = opt["lr"], opt["weight_decay"], opt["kind"]
    out = {}
    state = {n: {} for n in names}
    if kind == "sgd":  # torch.optim.SGD itself (dampening 0), decay and no-decay groups
        for p in params.values():
            p.requires_grad_(True)
        groups = [{"params": [params[n] for n in names if n in decay], "weight_decay": wd},
                  {"params": [params[n] for n in names if n not in decay], "weight_decay": 0.0}]
        sgd = torch.optim.SGD([g for g in groups if g["params"]], lr=lr, momentum=opt["momentum"],
                              nesterov=opt["nesterov"], foreach=False)
    if kind == "muon":  # the AdamW part: torch.optim.AdamW itself, as Moonshot's Muon does for 1-D/embed/head
        others = {n: params[n].requires_grad_(True) for n in names if n not in opt["matrices"]}
        adamw = make_adamw(others, opt) if others else None
    for k in range(opt["steps"]):
        grads = {n: torch.tensor(tensors[f"grad.{k}.{n}"], dtype=torch.float64) for n in names}
        if kind == "sgd":
            for n in names:
                params[n].grad = grads[n]
            sgd.step()
        elif kind == "lion":  # Chen et al. 2023, Algorithm 2
            b1, b2 = opt["beta1"], opt["beta2"]
            for n in names:
                m = state[n].setdefault("exp_avg", torch.zeros_like(params[n]))
                c = b1 * m + (1 - b1) * grads[n]
                keep = 1 - lr * wd if n in decay else 1.0
                params[n] = params[n] * keep - lr * torch.sign(c)
                state[n]["exp_avg"] = b2 * m + (1 - b2) * grads[n]
        elif kind == "muon":  # Moonshot's Muon (github.com/MoonshotAI/Moonlight, examples/toy_train.py)
            mu = opt["muon_momentum"]
            with torch.no_grad():
                for n in opt["matrices"]:
                    g, p = grads[n], params[n]
                    buf = state[n].setdefault("momentum_buffer", torch.zeros_like(g))
                    buf.mul_(mu).add_(g)
                    u = g.add(buf, alpha=mu)  # nesterov
                    O, norms = newton_schulz5(u, opt["ns_steps"])
                    adjusted_lr = lr * 0.2 * math.sqrt(max(p.shape[0], p.shape[1]))
                    keep = 1 - lr * wd if n in decay else 1.0
                    p.mul_(keep).add_(O, alpha=-adjusted_lr)
                    out[f"ns.{k}.{n}"] = norms
            if adamw is not None:
                for n in others:
                    others[n].grad = grads[n]
                adamw.step()
        else:
            sys.exit(f"reference.py: --optim-parity kind {kind!r}; expected sgd, lion or muon")
        for n in names:
            out[f"step.{k}.{n}"] = params[n].detach().numpy().astype(np.float32)
    write_safetensors(args.optim_parity[1], out)


def run_parity(args):
    tensors, meta = read_safetensors(args.parity[0])
    cfg = json.loads(meta["bench.model"])
    opt = json.loads(meta["bench.optim"])
    dtype = {"float64": torch.float64, "float32": torch.float32}[args.dtype]
    shapes = param_shapes(cfg)
    missing = [n for n in shapes if n not in tensors]
    if missing:
        sys.exit(f"reference.py: {args.parity[0]} lacks tensors {missing}")
    params = {}
    for name, shape in shapes.items():
        arr = tensors[name]
        if tuple(arr.shape) != tuple(shape):
            sys.exit(f"reference.py: tensor {name} has shape {arr.shape}, expected {shape}")
        params[name] = torch.tensor(arr, dtype=dtype, requires_grad=True)
    inputs = torch.tensor(tensors["batch.inputs"].astype(np.int64))
    targets = torch.tensor(tensors["batch.targets"].astype(np.int64))
    rope = rope_tables(inputs.shape[1], cfg["d_model"] // cfg["n_heads"], cfg["rope_theta"], dtype)
    loss = forward_loss(params, cfg, inputs, targets, rope)
    loss.backward()
    out = {"loss": np.array(loss.item(), dtype=np.float32).reshape(())}
    for name, p in params.items():
        out["grad." + name] = p.grad.detach().numpy().astype(np.float32)
    adamw = make_adamw(params, opt)
    adamw.step()
    for name, p in params.items():
        out["step." + name] = p.detach().numpy().astype(np.float32)
    # The loss in double precision as text too: F32 rounding of the loss itself is ~6e-8 relative.
    write_safetensors(args.parity[1], out, {"loss": repr(loss.item()), "dtype": args.dtype})


def run_bench(args):
    cfg = json.loads(args.model)
    B, T = args.batch, args.seq
    gen = torch.Generator().manual_seed(args.seed)
    params = {}
    for name, shape in param_shapes(cfg).items():
        if len(shape) == 1:
            t = torch.ones(shape)
        else:
            t = torch.empty(shape)
            torch.nn.init.trunc_normal_(t, std=0.02, a=-0.06, b=0.06)
        params[name] = t.requires_grad_(True)
    inputs = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
    targets = torch.randint(0, cfg["vocab_size"], (B, T), generator=gen)
    rope = rope_tables(T, cfg["d_model"] // cfg["n_heads"], cfg["rope_theta"], torch.float32)
    opt = {"lr": 1e-4, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1,
           "decay": [n for n, p in params.items() if p.dim() == 2]}
    adamw = make_adamw(params, opt)

    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    def step():
        adamw.zero_grad(set_to_none=True)
        loss = forward_loss(params, cfg, inputs, targets, rope)
        loss.backward()
        adamw.step()
        return loss

    for _ in range(args.warmup):
        step()
    print(json.dumps({"ready": True, "params": sum(p.numel() for p in params.values()),
                      "threads": torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "quit":
            break
        if cmd[0] != "run":
            sys.exit(f"reference.py: unknown command {line!r}; expected 'run N' or 'quit'")
        times = []
        for _ in range(int(cmd[1])):
            t0 = clock()
            loss = step()
            times.append(clock() - t0)
        print(json.dumps({"step_s": times, "loss": loss.item()}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--parity", nargs=2, metavar=("IN", "OUT"))
    ap.add_argument("--optim-parity", nargs=2, metavar=("IN", "OUT"))
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--model", help="architecture JSON (bench mode)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                    help="bench step times: wall clock, or this process's CPU time (all threads)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.parity:
        run_parity(args)
    elif args.optim_parity:
        run_optim_parity(args)
    elif args.bench:
        run_bench(args)
    else:
        ap.error("choose --parity IN OUT, --optim-parity IN OUT or --bench")


if __name__ == "__main__":
    main()
