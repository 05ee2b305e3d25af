"""The four Hugging Face decoder families as torch modules, for reference/reference.py (the independent oracle).

Each class mirrors the structure of transformers' modeling file (modeling_llama.py, modeling_olmo.py,
modeling_olmo2.py, modeling_gpt_neox.py): the same submodules, names and order of operations, written
from those files' semantics, not from overtrain's C++. Overtrain stores every family under canonical
Llama / OLMo-2 tensor names (src/model/layout.h); `to_canonical` / `from_canonical` are the name and
layout maps between a family's own parameters and those names (GPT-NeoX's fused, per-head interleaved
query_key_value is the one non-trivial map). The modules' own parameter names are transformers', so a
Hugging Face directory loads by its names as they are (`config_from_hf`, `load_hf`). Entry points:
build_model, to_canonical, load_canonical, config_from_hf, load_hf.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------------
# Shared pieces (each is what the HF files define, sometimes under several names).


class RMSNorm(nn.Module):
    """LlamaRMSNorm / Olmo2RMSNorm: x * rsqrt(mean(x^2) + eps) * weight. HF upcasts to float32 first; our
    runs are float32 or float64 already, so the upcast is dropped (it would round a float64 run)."""

    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class OlmoLayerNorm(nn.Module):
    """OLMo's LayerNorm without weight or bias. HF hard-codes eps = 1e-5 (OLMo-1B's value); we take the
    config's norm_eps, which an import of OLMo sets to 1e-5. The float32 upcast is dropped as above."""

    def __init__(self, n, eps):
        super().__init__()
        self.normalized_shape = (n,)
        self.eps = eps

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, None, None, eps=self.eps)


def rotary_tables(T, dim, theta, dtype):
    """HF's rotary embedding: inv_freq = 1 / theta^(arange(0, dim, 2) / dim); emb = cat(freqs, freqs).
    Returns cos, sin (T, dim). Computed in float64 (HF: float32) and cast, so a float64 run is exact."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)  # (T, dim/2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    # q, k: (B, heads, T, dim); cos, sin: (T, dim)
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(x, n_rep):
    """(B, KH, T, HS) -> (B, KH*n_rep, T, HS): query head h reads kv head h // n_rep (modeling_llama)."""
    if n_rep == 1:
        return x
    B, KH, T, HS = x.shape
    return x[:, :, None].expand(B, KH, n_rep, T, HS).reshape(B, KH * n_rep, T, HS)


def causal_attention(q, k, v, causal):
    """Eager attention (modeling_llama.eager_attention_forward): softmax(q k^T / sqrt(HS) + mask) v.
    q, k, v: (B, NH, T, HS); causal: (T, T) bool, True above the diagonal (masked)."""
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    att = att.masked_fill(causal, float("-inf")).softmax(-1)
    return att @ v


# ----------------------------------------------------------------------------------------------------
# Llama and OLMo (OLMo-1B-hf). modeling_olmo subclasses Llama: OlmoLayerNorm instead of RMSNorm, and
# OlmoAttention clamps q, k and v to [-clip_qkv, clip_qkv] right after the projections.


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, self.NH, self.KH = cfg["d_model"], cfg["n_heads"], kv_heads(cfg)
        self.HS = C // self.NH
        bias = cfg["attn_bias"]
        self.q_proj = nn.Linear(C, self.NH * self.HS, bias=bias)
        self.k_proj = nn.Linear(C, self.KH * self.HS, bias=bias)
        self.v_proj = nn.Linear(C, self.KH * self.HS, bias=bias)
        self.o_proj = nn.Linear(self.NH * self.HS, C, bias=bias)
        self.clip_qkv = cfg["clip_qkv"]

    def project(self, x):
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if self.clip_qkv:  # OlmoAttention: q.clamp_(min=-c, max=c) and the same for k, v
            c = self.clip_qkv
            q, k, v = q.clamp(-c, c), k.clamp(-c, c), v.clamp(-c, c)
        return q, k, v

    def forward(self, x, rope, causal):
        B, T, _ = x.shape
        q, k, v = self.project(x)
        q = q.view(B, T, self.NH, self.HS).transpose(1, 2)
        k = k.view(B, T, self.KH, self.HS).transpose(1, 2)
        v = v.view(B, T, self.KH, self.HS).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, *rope)
        n_rep = self.NH // self.KH
        y = causal_attention(q, repeat_kv(k, n_rep), repeat_kv(v, n_rep), causal)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.NH * self.HS))


class LlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, F_, bias = cfg["d_model"], cfg["d_ff"], cfg["mlp_bias"]
        self.gate_proj = nn.Linear(C, F_, bias=bias)
        self.up_proj = nn.Linear(C, F_, bias=bias)
        self.down_proj = nn.Linear(F_, C, bias=bias)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg, norm):
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = norm()
        self.post_attention_layernorm = norm()

    def forward(self, x, rope, causal):
        h = x + self.self_attn(self.input_layernorm(x), rope, causal)
        return h + self.mlp(self.post_attention_layernorm(h))


# ----------------------------------------------------------------------------------------------------
# OLMo-2: Olmo2Attention normalises the whole q and k projections (q_norm over NH*HS, k_norm over
# KH*HS, before the reshape into heads and before RoPE); the block norms sit after each branch.


class Olmo2Attention(LlamaAttention):
    def __init__(self, cfg):
        super().__init__(cfg)
        self.q_norm = RMSNorm(self.NH * self.HS, cfg["norm_eps"])
        self.k_norm = RMSNorm(self.KH * self.HS, cfg["norm_eps"])

    def project(self, x):
        q, k, v = super().project(x)
        return self.q_norm(q), self.k_norm(k), v


class Olmo2DecoderLayer(nn.Module):
    def __init__(self, cfg, norm):
        super().__init__()
        self.self_attn = Olmo2Attention(cfg)
        self.post_attention_layernorm = norm()
        self.mlp = LlamaMLP(cfg)
        self.post_feedforward_layernorm = norm()

    def forward(self, x, rope, causal):
        h = x + self.post_attention_layernorm(self.self_attn(x, rope, causal))
        return h + self.post_feedforward_layernorm(self.mlp(h))


class LlamaModel(nn.Module):
    def __init__(self, cfg, layer, norm):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["d_model"])
        self.layers = nn.ModuleList([layer(cfg, norm) for _ in range(cfg["n_layers"])])
        self.norm = norm()

    def forward(self, inputs, rope, causal):
        x = self.embed_tokens(inputs)  # (B, T, C)
        for block in self.layers:
            x = block(x, rope, causal)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    """Llama, OLMo and OLMo-2 (their CausalLM wrappers are the same); tied: lm_head shares the embedding."""

    def __init__(self, cfg, layer, norm):
        super().__init__()
        self.model = LlamaModel(cfg, layer, norm)
        self.lm_head = nn.Linear(cfg["d_model"], cfg["vocab_size"], bias=False)
        if cfg["tied_head"]:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.rotary_dims = cfg["d_model"] // cfg["n_heads"]

    def forward(self, inputs, rope, causal):
        return self.lm_head(self.model(inputs, rope, causal))  # (B, T, V) logits


# ----------------------------------------------------------------------------------------------------
# GPT-NeoX (Pythia). One fused query_key_value whose output is laid out per head as [q_h; k_h; v_h];
# rotary on the first rotary_ndims = int(HS * rotary_pct) dims of each head, with cos/sin built for
# dim = rotary_ndims (the rest pass through); attention and the MLP read the same input when
# use_parallel_residual; nn.LayerNorm with weight and bias; biases on every linear; exact-erf GELU.


class GPTNeoXAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, self.NH = cfg["d_model"], cfg["n_heads"]
        self.HS = C // self.NH
        self.rotary_ndims = int(self.HS * cfg["rotary_pct"])
        self.query_key_value = nn.Linear(C, 3 * C, bias=cfg["attn_bias"])
        self.dense = nn.Linear(C, C, bias=cfg["attn_bias"])

    def forward(self, x, rope, causal):
        B, T, C = x.shape
        qkv = self.query_key_value(x).view(B, T, self.NH, 3 * self.HS)
        q = qkv[..., : self.HS].permute(0, 2, 1, 3)
        k = qkv[..., self.HS: 2 * self.HS].permute(0, 2, 1, 3)
        v = qkv[..., 2 * self.HS:].permute(0, 2, 1, 3)
        r = self.rotary_ndims
        q_rot, k_rot = apply_rotary_pos_emb(q[..., :r], k[..., :r], *rope)
        q = torch.cat((q_rot, q[..., r:]), dim=-1)
        k = torch.cat((k_rot, k[..., r:]), dim=-1)
        y = causal_attention(q, k, v, causal)
        return self.dense(y.permute(0, 2, 1, 3).reshape(B, T, C))


class GPTNeoXMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense_h_to_4h = nn.Linear(cfg["d_model"], cfg["d_ff"])
        self.dense_4h_to_h = nn.Linear(cfg["d_ff"], cfg["d_model"])

    def forward(self, x):
        return self.dense_4h_to_h(F.gelu(self.dense_h_to_4h(x)))  # hidden_act "gelu": erf form


class GPTNeoXLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.use_parallel_residual = cfg["parallel_residual"]
        self.input_layernorm = nn.LayerNorm(cfg["d_model"], eps=cfg["norm_eps"])
        self.post_attention_layernorm = nn.LayerNorm(cfg["d_model"], eps=cfg["norm_eps"])
        self.attention = GPTNeoXAttention(cfg)
        self.mlp = GPTNeoXMLP(cfg)

    def forward(self, x, rope, causal):
        attn_output = self.attention(self.input_layernorm(x), rope, causal)
        if self.use_parallel_residual:  # x + attn(ln1(x)) + mlp(ln2(x))
            return self.mlp(self.post_attention_layernorm(x)) + attn_output + x
        attn_output = attn_output + x
        return self.mlp(self.post_attention_layernorm(attn_output)) + attn_output


class GPTNeoXModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_in = nn.Embedding(cfg["vocab_size"], cfg["d_model"])
        self.layers = nn.ModuleList([GPTNeoXLayer(cfg) for _ in range(cfg["n_layers"])])
        self.final_layer_norm = nn.LayerNorm(cfg["d_model"], eps=cfg["norm_eps"])

    def forward(self, inputs, rope, causal):
        x = self.embed_in(inputs)
        for block in self.layers:
            x = block(x, rope, causal)
        return self.final_layer_norm(x)


class GPTNeoXForCausalLM(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gpt_neox = GPTNeoXModel(cfg)
        self.embed_out = nn.Linear(cfg["d_model"], cfg["vocab_size"], bias=False)
        if cfg["tied_head"]:  # tie_word_embeddings (Pythia: false)
            self.embed_out.weight = self.gpt_neox.embed_in.weight
        self.rotary_dims = self.gpt_neox.layers[0].attention.rotary_ndims

    def forward(self, inputs, rope, causal):
        return self.embed_out(self.gpt_neox(inputs, rope, causal))


# ----------------------------------------------------------------------------------------------------
# Which family a config describes, and the canonical names.


def kv_heads(cfg):
    return cfg.get("n_kv_heads", 0) or cfg["n_heads"]


def family_of(cfg):
    """The HF family whose config can express these switches; raises ValueError naming the switch that
    no family holds (the reference then refuses instead of computing some other model)."""
    post = cfg["norm_placement"] == "post"
    if post:
        family, allowed = "olmo2", dict(norm="rmsnorm", mlp="swiglu", qk_norm=True, mlp_bias=False,
                                        parallel_residual=False, rotary_pct=1.0, clip_qkv=0)
    elif cfg["mlp"] == "gelu" or cfg["norm"] == "layernorm_affine" or cfg["parallel_residual"]:
        family, allowed = "gpt_neox", dict(norm="layernorm_affine", mlp="gelu", mlp_bias=True, qk_norm=False,
                                           clip_qkv=0)
        if kv_heads(cfg) != cfg["n_heads"]:
            raise ValueError(f"model.n_kv_heads = {cfg['n_kv_heads']} with these switches would be gpt_neox, "
                             "which has no grouped-query attention (n_kv_heads must be 0 or n_heads)")
    elif cfg["norm"] == "layernorm":
        family, allowed = "olmo", dict(mlp="swiglu", mlp_bias=False, qk_norm=False, parallel_residual=False,
                                       rotary_pct=1.0)
    else:
        family, allowed = "llama", dict(norm="rmsnorm", mlp="swiglu", qk_norm=False, parallel_residual=False,
                                        rotary_pct=1.0, clip_qkv=0)
    for key, value in allowed.items():
        if cfg[key] != value:
            raise ValueError(f"model.{key} = {cfg[key]!r} with these switches would be {family}, whose "
                             f"Hugging Face config needs {value!r}")
    return family


def build_model(cfg):
    """The family module for cfg (float32, parameters uninitialised until load_canonical)."""
    family = family_of(cfg)
    C, eps = cfg["d_model"], cfg["norm_eps"]
    if family == "gpt_neox":
        return GPTNeoXForCausalLM(cfg)
    if family == "olmo":
        return LlamaForCausalLM(cfg, LlamaDecoderLayer, lambda: OlmoLayerNorm(C, eps))
    layer = Olmo2DecoderLayer if family == "olmo2" else LlamaDecoderLayer
    return LlamaForCausalLM(cfg, layer, lambda: RMSNorm(C, eps))


# GPT-NeoX module name -> canonical name (src/model/layout.h), per layer and for the rest.
_NEOX_LAYER = {"input_layernorm": "input_layernorm", "post_attention_layernorm": "post_attention_layernorm",
               "attention.dense": "self_attn.o_proj", "mlp.dense_h_to_4h": "mlp.up_proj",
               "mlp.dense_4h_to_h": "mlp.down_proj"}
_NEOX_TOP = {"gpt_neox.embed_in.weight": "model.embed_tokens.weight",
             "gpt_neox.final_layer_norm.weight": "model.norm.weight",
             "gpt_neox.final_layer_norm.bias": "model.norm.bias", "embed_out.weight": "lm_head.weight"}


def _neox_split_qkv(t, NH):
    """query_key_value weight (3C, C) or bias (3C,): rows per head [q_h; k_h; v_h] -> q, k, v."""
    per_head = t.reshape(NH, 3, -1, *t.shape[1:])  # (NH, 3, HS, ...)
    return [per_head[:, j].reshape(-1, *t.shape[1:]) for j in range(3)]


def _neox_fuse_qkv(q, k, v, NH):
    return torch.stack([x.reshape(NH, -1, *x.shape[1:]) for x in (q, k, v)], dim=1).reshape(-1, *q.shape[1:])


def to_canonical(model, tensors):
    """tensors: the model's named_parameters() names -> tensors of those shapes (weights or their
    gradients: the maps are permutations). Returns canonical name -> tensor."""
    if not isinstance(model, GPTNeoXForCausalLM):
        return dict(tensors)  # the Llama / OLMo / OLMo-2 modules use the canonical names themselves
    NH, out = model.gpt_neox.layers[0].attention.NH, {}
    for name, t in tensors.items():
        if name in _NEOX_TOP:
            out[_NEOX_TOP[name]] = t
            continue
        _, _, i, rest = name.split(".", 3)  # gpt_neox.layers.{i}.{module}.{weight|bias}
        module, kind = rest.rsplit(".", 1)
        prefix = f"model.layers.{i}."
        if module == "attention.query_key_value":
            for proj, part in zip("qkv", _neox_split_qkv(t, NH)):
                out[f"{prefix}self_attn.{proj}_proj.{kind}"] = part
        else:
            out[f"{prefix}{_NEOX_LAYER[module]}.{kind}"] = t
    return out


def load_canonical(model, canonical):
    """Copies canonical tensors (name -> array/tensor) into the model's parameters; every parameter must
    be covered and every canonical tensor used, else ValueError naming the first mismatch."""
    params = dict(model.named_parameters())
    expected = to_canonical(model, params)
    missing = sorted(set(expected) - set(canonical))
    extra = sorted(set(canonical) - set(expected))
    if missing or extra:
        raise ValueError(f"parameters: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, t in expected.items():
        if tuple(t.shape) != tuple(canonical[name].shape):
            raise ValueError(f"tensor {name} has shape {tuple(canonical[name].shape)}, expected {tuple(t.shape)}")
    with torch.no_grad():
        for name, p in params.items():
            parts = {n: torch.as_tensor(canonical[n], dtype=p.dtype) for n in to_canonical(model, {name: p})}
            if len(parts) == 1:
                p.copy_(next(iter(parts.values())))
            else:  # the NeoX fused projection, from q, k, v in order
                q, k, v = (parts[n] for n in sorted(parts, key=lambda n: "qkv".index(n.split(".")[-2][0])))
                p.copy_(_neox_fuse_qkv(q, k, v, model.gpt_neox.layers[0].attention.NH))


# ----------------------------------------------------------------------------------------------------
# A Hugging Face directory by its own names: config.json's keys with transformers' defaults, written from
# the families' configuration files (not from overtrain's import, src/model/hf_config.cc), and the
# tensors under the modules' parameter names, which are transformers' own.


def config_from_hf(hf):
    """config.json (dict) -> the switches build_model reads, plus rope_theta. ValueError for a model_type
    other than llama, olmo, olmo2 and gpt_neox."""
    kind = hf["model_type"]
    if kind not in ("llama", "olmo", "olmo2", "gpt_neox"):
        raise ValueError(f"model_type {kind!r}; expected llama, olmo, olmo2 or gpt_neox")
    nh = hf["num_attention_heads"]
    cfg = dict(vocab_size=hf["vocab_size"], d_model=hf["hidden_size"], d_ff=hf["intermediate_size"],
               n_layers=hf["num_hidden_layers"], n_heads=nh, n_kv_heads=hf.get("num_key_value_heads") or nh,
               tied_head=hf.get("tie_word_embeddings", False), norm_placement="pre", norm="rmsnorm",
               mlp="swiglu", qk_norm=False, parallel_residual=False, rotary_pct=1.0, clip_qkv=0,
               attn_bias=hf.get("attention_bias", False), mlp_bias=hf.get("mlp_bias", False),
               rope_theta=hf.get("rope_theta", 10000.0))
    if kind == "llama":  # LlamaConfig
        cfg["norm_eps"] = hf.get("rms_norm_eps", 1e-6)
    elif kind == "olmo":  # OlmoConfig: OlmoLayerNorm hard-codes eps 1e-5; OlmoMLP has no bias
        cfg.update(norm="layernorm", norm_eps=1e-5, clip_qkv=hf.get("clip_qkv") or 0, mlp_bias=False)
    elif kind == "olmo2":  # Olmo2Config: norms after each branch, q_norm / k_norm; Olmo2MLP has no bias
        cfg.update(norm_placement="post", qk_norm=True, norm_eps=hf.get("rms_norm_eps", 1e-5), mlp_bias=False)
    else:  # GPTNeoXConfig
        cfg.update(norm="layernorm_affine", mlp="gelu", norm_eps=hf.get("layer_norm_eps", 1e-5),
                   mlp_bias=True, n_kv_heads=nh, attn_bias=hf.get("attention_bias", True),
                   parallel_residual=hf.get("use_parallel_residual", True),
                   rotary_pct=hf.get("rotary_pct", 0.25), rope_theta=hf.get("rotary_emb_base", 10000))
    return cfg


def check_tensors(expected, given, what, ignored=()):
    """ValueError unless `given` has every name of `expected` with its shape and no other name (but
    `ignored`): the first five missing and unexpected names, or the first misshapen tensor."""
    missing = sorted(set(expected) - set(given))
    extra = sorted(set(given) - set(expected) - set(ignored))
    if missing or extra:
        raise ValueError(f"{what}: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, t in expected.items():
        if tuple(t.shape) != tuple(given[name].shape):
            raise ValueError(f"tensor {name} has shape {tuple(given[name].shape)}, "
                             f"expected {tuple(t.shape)}")


def load_hf(model, tensors):
    """Copies tensors named as in the HF files (name -> array/tensor) into the model's parameters. Every
    parameter must be present with its shape and every tensor used, except a tied head's own copy
    (lm_head / embed_out weight), which transformers also overwrites with the embedding. ValueError
    names the first mismatches."""
    params = dict(model.named_parameters())  # a tied head appears once, under the embedding's name
    check_tensors(params, tensors, "tensors", ignored=set(model.state_dict()) - set(params))
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(torch.as_tensor(tensors[name], dtype=p.dtype))
