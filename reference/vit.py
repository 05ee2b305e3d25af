"""The vision transformer as a PyTorch module, for reference/reference.py (the independent oracle).

Written from the papers, not from overtrain's C++: ViT (Dosovitskiy et al. 2021, eq. 1-4: patches
flattened and linearly embedded, an optional learnable [class] token, position embeddings, a stack of
transformer blocks, a final norm, the class token or the mean of the tokens into a head), 2-D axial
RoPE (Heo et al. 2024: half of the rotated pairs turn with the patch row, half with the column) and
SigLIP's pairwise sigmoid loss (Zhai et al. 2023, Algorithm 1). The blocks are the Hugging Face family
modules of reference/hf_families.py chosen by the same switches as the decoder's, run with a mask that
is all False when model.causal = false. Images are row-major (H, W, channels) floats; a patch's vector
is (dy, dx, channel)-ordered and patches go in raster order (config.h). Tensors carry overtrain's
canonical names (src/model/layout.cc): patch_embed.{weight,bias}, cls_token, pos_embed, the decoder's
model.layers.* and model.norm.*, head.{weight,bias}, siglip.t_log, siglip.bias. Entry points: ViT,
build_vit, vit_loss, random_canonical.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import hf_families as hf

# The family module's token ends, unused by the ViT: built at vocab 1, loaded with zeros, no gradient.
_TOKEN_ENDS = ("model.embed_tokens.weight", "lm_head.weight")


def patchify(pixels, S, p, ch):
    """(B, S*S*ch) row-major images -> (B, (S/p)^2, p*p*ch) patches, raster order, (dy, dx, c) inside."""
    B, n = pixels.shape[0], S // p
    x = pixels.reshape(B, n, p, n, p, ch)  # (b, py, dy, px, dx, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, n * n, p * p * ch)


def axial_angles(side, cls, rot, theta):
    """2-D RoPE's angle per (token, rotated pair), (T, rot/2), float64: a patch at grid (py, px) sits at
    (row, col) = (py + 1, px + 1), the class token at (0, 0); pairs [0, rot/4) turn with the row, pairs
    [rot/4, rot/2) with the column, each at the 1-D frequencies of rot/2 dims theta^(-2j/(rot/2))."""
    q = rot // 4
    freq = theta ** (-torch.arange(q, dtype=torch.float64) * 4.0 / rot)  # (rot/4,)
    grid = torch.arange(side, dtype=torch.float64) + 1
    rows = grid.repeat_interleave(side)  # patch k = py*side + px: row py+1
    cols = grid.repeat(side)  # column px+1
    if cls:
        rows, cols = torch.cat([torch.zeros(1, dtype=torch.float64), rows]), \
            torch.cat([torch.zeros(1, dtype=torch.float64), cols])
    return torch.cat([torch.outer(rows, freq), torch.outer(cols, freq)], dim=1)


class ViT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C, S, p, ch = cfg["d_model"], cfg["image_size"], cfg["patch_size"], cfg["channels"]
        self.side = S // p
        self.cls = cfg["pool"] == "cls"
        self.T = self.side ** 2 + (1 if self.cls else 0)
        self.patch_embed = nn.Linear(p * p * ch, C)
        if self.cls:
            self.cls_token = nn.Parameter(torch.zeros(C))
        if cfg["positions"] == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(self.T, C))
        # The blocks and the final norm: the decoder family's own modules (reference/hf_families.py).
        self.family = hf.build_model(dict(cfg, vocab_size=1, tied_head=False))
        self.neox = isinstance(self.family, hf.GPTNeoXForCausalLM)
        K = cfg["proj_dim"] if cfg["head"] == "projection" else cfg["n_classes"]
        self.head = nn.Linear(C, K)
        if cfg["head"] == "projection":
            self.t_log = nn.Parameter(torch.zeros(()))
            self.siglip_bias = nn.Parameter(torch.zeros(()))

    def rope(self, dtype):
        """cos, sin (T, r) for the family's rotate-half RoPE on the first r dims of each head; learned
        positions rotate nothing (cos 1, sin 0)."""
        r, theta, kind = self.family.rotary_dims, self.cfg["rope_theta"], self.cfg["positions"]
        if kind == "learned":
            return torch.ones(self.T, r, dtype=dtype), torch.zeros(self.T, r, dtype=dtype)
        if kind == "rope":  # 1-D over the token order: the class token at 0, patch k at k (+1)
            return hf.rotary_tables(self.T, r, theta, dtype)
        ang = axial_angles(self.side, self.cls, r, theta)  # (T, r/2)
        emb = torch.cat([ang, ang], dim=-1)  # rotate-half: pair i is dims (i, i + r/2)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def forward(self, pixels):
        """(B, S*S*ch) images -> (B, K) head outputs (class logits or projections)."""
        cfg = self.cfg
        x = self.patch_embed(patchify(pixels, cfg["image_size"], cfg["patch_size"], cfg["channels"]))
        if self.cls:
            x = torch.cat([self.cls_token.expand(x.shape[0], 1, -1), x], dim=1)
        if cfg["positions"] == "learned":
            x = x + self.pos_embed
        mask = torch.ones(self.T, self.T, dtype=torch.bool).triu(1) if cfg["causal"] else \
            torch.zeros(self.T, self.T, dtype=torch.bool)
        rope = self.rope(x.dtype)
        trunk = self.family.gpt_neox if self.neox else self.family.model
        for block in trunk.layers:
            x = block(x, rope, mask)
        x = trunk.final_layer_norm(x) if self.neox else trunk.norm(x)
        return self.head(x[:, 0] if self.cls else x.mean(dim=1))

    # -------------------------------------------------------------------------------------------------
    # Canonical names: the ViT's own tensors, and the family's under hf.to_canonical (NeoX fuses q, k, v).

    _OWN = {"patch_embed.weight": "patch_embed.weight", "patch_embed.bias": "patch_embed.bias",
            "cls_token": "cls_token", "pos_embed": "pos_embed", "head.weight": "head.weight",
            "head.bias": "head.bias", "t_log": "siglip.t_log", "siglip_bias": "siglip.bias"}

    def trainable(self):
        """Module name -> parameter, without the family's unused token ends."""
        def token_end(name, p):
            return name.startswith("family.") and set(
                hf.to_canonical(self.family, {name[len("family."):]: p})) <= set(_TOKEN_ENDS)
        return {n: p for n, p in self.named_parameters() if not token_end(n, p)}

    def to_canonical(self, tensors):
        """Module name -> tensor (weights or gradients) => canonical name -> tensor; siglip's scalars
        become shape (1,) as the layout has them."""
        out = {}
        for name, t in tensors.items():
            if name.startswith("family."):
                out.update(hf.to_canonical(self.family, {name[len("family."):]: t}))
            else:
                out[self._OWN[name]] = t.reshape(1) if t.dim() == 0 else t
        return {n: t for n, t in out.items() if n not in _TOKEN_ENDS}

    def load_canonical(self, canonical):
        """Copies canonical tensors into the parameters; ValueError names missing, extra or misshapen."""
        hf.check_tensors(self.to_canonical(self.trainable()), canonical, "parameters")
        fam = {n: canonical[n] for n in canonical if n.startswith("model.")}
        shapes = hf.to_canonical(self.family, dict(self.family.named_parameters()))
        fam.update({n: torch.zeros(shapes[n].shape) for n in _TOKEN_ENDS})
        hf.load_canonical(self.family, fam)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if not name.startswith("family."):
                    p.copy_(torch.as_tensor(canonical[self._OWN[name]], dtype=p.dtype).reshape(p.shape))


def build_vit(cfg, dtype, canonical):
    model = ViT(cfg).to(dtype)
    model.load_canonical(canonical)
    return model


def siglip_loss(x, y, t_log, bias):
    """Zhai et al. 2023, Algorithm 1: L2-normalised embeddings, logits = t * x y^T + b with t = exp(t'),
    labels 2I - 1, loss = -sum(log sigmoid(labels * logits)) / n over the n x n pairs."""
    x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    logits = x @ y.T * t_log.exp() + bias
    labels = 2 * torch.eye(x.shape[0], dtype=x.dtype) - 1
    return -F.logsigmoid(labels * logits).sum() / x.shape[0]


def vit_loss(model, pixels, labels=None, pixels_b=None):
    """Mean cross-entropy of the class head over the B images, or (pixels_b given) SigLIP's loss
    between the B pairs (pixels[i], pixels_b[i])."""
    if pixels_b is None:
        return F.cross_entropy(model(pixels), labels)
    B = pixels.shape[0]
    z = model(torch.cat([pixels, pixels_b]))
    return siglip_loss(z[:B], z[B:], model.t_log, model.siglip_bias)


def random_canonical(cfg, dtype):
    """Random weights as overtrain initialises them (model/init.cc): trunc-normal(0.02, 3 sigma) for
    matrices, the class token and the position table; gains 1, biases 0; SigLIP's t' = log 10, b = -10."""
    out = {}
    model = ViT(cfg)
    for name, t in model.to_canonical(model.trainable()).items():
        if name == "siglip.t_log":
            out[name] = torch.full((1,), math.log(10.0), dtype=dtype)
        elif name == "siglip.bias":
            out[name] = torch.full((1,), -10.0, dtype=dtype)
        elif t.dim() == 2 or name == "cls_token":
            w = torch.empty(t.shape, dtype=dtype)
            torch.nn.init.trunc_normal_(w, std=0.02, a=-0.06, b=0.06)
            out[name] = w
        else:
            out[name] = torch.zeros(t.shape, dtype=dtype) if name.endswith(".bias") else \
                torch.ones(t.shape, dtype=dtype)
    return out
