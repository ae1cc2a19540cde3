"""Calibration: run text through the source model in NumPy and record what each matrix sees.

    stats = collect(source, text)                 # source: quant_source.Source
    stats.mean_abs["blk.3.attn_q.weight"]        # per-input-channel mean |x|   (AWQ)
    stats.mean_sq["blk.3.attn_q.weight"]         # per-input-channel mean x^2   (sensitivity)
    stats.samples[(3, "attn_norm")]              # (n_tokens, D) inputs of q/k/v, subsampled

The forward pass is a plain float32 NumPy transcription of the decoder the C
engine runs (Gemma 1/2/3 and llama, from the same hparams), over the source's
own weights read one layer at a time, so it needs no torch and no C hooks.  It
holds one layer's weights in float32; the embedding is read only for the rows
the calibration text uses.  It is validated against Model.logits in
tests/test_quantize_quality.py.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import block_formats
from ._core import Error

DEFAULT_CALIBRATION = Path(__file__).with_name("calibration.txt")
MAX_TOKENS = 1024   # calibration tokens used (one sequence)
MAX_SAMPLES = 256   # token rows kept per norm group for the AWQ search

# 4-bit and 8-bit round trips used by the sensitivity score
Q4, Q8 = "Q4_0", "Q8_0"


def calibration_text(calibration=None) -> str:
    """calibration: None (the bundled text), a path to a text file, or the text itself."""
    if calibration is None:
        return DEFAULT_CALIBRATION.read_text(encoding="utf-8")
    if isinstance(calibration, os.PathLike) or (isinstance(calibration, str) and "\n" not in calibration
                                                 and len(calibration) < 4096 and os.path.isfile(calibration)):
        return Path(calibration).read_text(encoding="utf-8")
    if isinstance(calibration, str):
        return calibration
    raise TypeError(f"calibration must be a path or a str, got {type(calibration).__name__}")


@dataclass
class Stats:
    mean_abs: dict = field(default_factory=dict)
    mean_sq: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)
    n_tokens: int = 0


def tokenizer_of(source):
    if source.kind == "gguf":
        from .tokenizer import Tokenizer
        if "tokenizer.ggml.tokens" not in source.metadata:
            raise Error(f"{source.path}: no tokenizer, so no calibration text can be encoded")
        return Tokenizer.from_gguf_metadata(source.metadata)
    from .hf_tokenizer import HFTokenizer
    tok = HFTokenizer.from_checkpoint(source.ckpt)
    if tok is None:
        raise Error(f"{source.path}: no tokenizer.json, so no calibration text can be encoded")
    return tok


def _rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def _rope(x, pos, base, scale, neox):
    """x: (n, heads, d).  neox rotates halves; otherwise adjacent pairs (GGUF llama)."""
    d = x.shape[-1]
    inv = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = (pos[:, None] * scale) * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :].astype(np.float32), np.sin(ang)[:, None, :].astype(np.float32)
    if neox:
        a, b = x[..., : d // 2], x[..., d // 2:]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
    return out


class Forward:
    """The decoder in NumPy over a Source; .run(ids, hook) calls hook(name, x) with the
    input x of every matrix (name = its GGUF name; 'head' for the output projection)."""

    def __init__(self, source):
        self.src, self.hp = source, source.hparams
        self.neox = bool(self.hp["rope_neox"]) if source.kind == "gguf" else source.arch != "llama"

    def w(self, name):
        return self.src.tensor(name).read()

    def embed(self, ids):
        t = self.src.tensor("token_embd.weight")
        rows = np.stack([t.read_rows(i, i + 1)[0] for i in ids])
        t.release(0, t.n_rows)
        if self.hp["embed_scale"]:
            rows *= np.float32(math.sqrt(self.hp["n_embd"]))
        return rows

    def run(self, ids, hook=lambda name, x: None):
        hp = self.hp
        n, eps = len(ids), hp["norm_eps"]
        H, Hkv, d = hp["n_head"], hp["n_head_kv"], hp["head_dim"]
        pos = np.arange(n, dtype=np.float64)
        h = self.embed(ids)
        i, j = np.arange(n)[:, None], np.arange(n)[None, :]
        for layer in range(hp["n_layer"]):
            p = f"blk.{layer}."
            x = _rmsnorm(h, self.w(p + "attn_norm.weight"), eps)
            for k in ("attn_q", "attn_k", "attn_v"):
                hook(p + k + ".weight", x)
            q = (x @ self.w(p + "attn_q.weight").T).reshape(n, H, d)
            k = (x @ self.w(p + "attn_k.weight").T).reshape(n, Hkv, d)
            v = (x @ self.w(p + "attn_v.weight").T).reshape(n, Hkv, d)
            if hp["qk_norm"]:
                q = _rmsnorm(q, self.w(p + "attn_q_norm.weight"), eps)
                k = _rmsnorm(k, self.w(p + "attn_k_norm.weight"), eps)
            swa = hp["layer_swa"][layer] and hp["sliding_window"]
            base = hp["rope_base_swa"] if swa else hp["rope_base"]
            fscale = hp["rope_freq_scale_swa"] if swa else hp["rope_freq_scale"]
            q, k = _rope(q, pos, base, fscale, self.neox), _rope(k, pos, base, fscale, self.neox)
            mask = j > i
            if swa:
                mask |= (i - j) >= hp["sliding_window"]
            rep = H // Hkv
            out = np.empty((n, H, d), np.float32)
            for hh in range(H):
                s = (q[:, hh] @ k[:, hh // rep].T) * np.float32(hp["attn_scale"])
                if hp["attn_softcap"]:
                    s = np.tanh(s / hp["attn_softcap"]) * hp["attn_softcap"]
                s = np.where(mask, -np.inf, s)
                s = np.exp(s - s.max(axis=1, keepdims=True))
                out[:, hh] = (s / s.sum(axis=1, keepdims=True)) @ v[:, hh // rep]
            out = out.reshape(n, H * d)
            hook(p + "attn_output.weight", out)
            o = out @ self.w(p + "attn_output.weight").T
            if hp["post_norms"]:
                o = _rmsnorm(o, self.w(p + "post_attention_norm.weight"), eps)
            h = h + o
            x = _rmsnorm(h, self.w(p + "ffn_norm.weight"), eps)
            hook(p + "ffn_gate.weight", x)
            hook(p + "ffn_up.weight", x)
            g, u = x @ self.w(p + "ffn_gate.weight").T, x @ self.w(p + "ffn_up.weight").T
            a = (_gelu_tanh(g) if hp["act_gelu"] else g / (1.0 + np.exp(-g))) * u
            hook(p + "ffn_down.weight", a)
            o = a @ self.w(p + "ffn_down.weight").T
            if hp["post_norms"]:
                o = _rmsnorm(o, self.w(p + "post_ffw_norm.weight"), eps)
            h = (h + o).astype(np.float32)
        x = _rmsnorm(h, self.w("output_norm.weight"), eps)
        hook("head", x)
        return x


def head_name(source) -> str:
    return "output.weight" if "output.weight" in source else "token_embd.weight"


def collect(source, text: str, *, want_samples: bool = True, max_tokens: int = MAX_TOKENS) -> Stats:
    """Per-input-channel activation statistics of every matrix on the calibration text."""
    ids = tokenizer_of(source).encode(text, add_bos=True)[:max_tokens]
    if len(ids) < 16:
        raise Error(f"the calibration text is too short ({len(ids)} tokens)")
    stats = Stats(n_tokens=len(ids))
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(len(ids), min(MAX_SAMPLES, len(ids)), replace=False))
    head = head_name(source)

    def hook(name, x):
        if name == "head":
            name = head
        stats.mean_abs[name] = np.abs(x).mean(axis=0)
        stats.mean_sq[name] = (x * x).mean(axis=0)
        if want_samples and name.endswith(("attn_q.weight", "ffn_gate.weight")):
            stats.samples[name] = np.ascontiguousarray(x[keep], np.float32)

    Forward(source).run(ids, hook)
    return stats


def relative_error(w: np.ndarray, mean_sq: np.ndarray, type_name: str) -> float:
    """Activation-weighted relative error of quantizing w (out, in): the expected
    ||x (W - Q(W))^T||^2 / ||x W^T||^2 for inputs with per-channel mean x^2 = mean_sq
    (channels treated as uncorrelated, as llama.cpp's imatrix does)."""
    q = block_formats.dequantize(block_formats.quantize(w, type_name), type_name, w.shape)
    err = float(((w - q) ** 2 * mean_sq[None, :]).sum())
    sig = float((w * w * mean_sq[None, :]).sum())
    return err / max(sig, 1e-30)


def sensitivity(source, stats: Stats, names) -> dict:
    """{name: relative output error at 4 bits minus at 8 bits} for the given matrices
    (large rows-chunked tensors are scored on a row sample)."""
    out = {}
    for name in names:
        t = source.tensor(name)
        if t.n_rows > 65536:  # the embedding: score 16384 evenly spaced rows
            step = t.n_rows // 16384
            w = np.concatenate([t.read_rows(r, r + 1) for r in range(0, t.n_rows, step)])
            t.release(0, t.n_rows)
        else:
            w = t.read_rows(0, t.n_rows)
        ms = stats.mean_sq[name]
        if w.shape[-1] % 32:
            out[name] = 0.0
            continue
        out[name] = relative_error(w, ms, Q4) - relative_error(w, ms, Q8)
    return out


def choose_promotions(source, stats: Stats, target_bpw: float, plan: dict):
    """mixed: promote matrices from their 4-bit type to Q8_0, most sensitive per
    extra byte first, while the file stays within target_bpw bits per weight."""
    from .quant_profiles import fit
    n_el = sum(t.n_elements for t in source.tensors)
    size = {t.name: _bytes(plan[t.name].type, t) for t in source.tensors}
    budget = target_bpw * n_el / 8.0
    total = sum(size.values())
    names = [t.name for t in source.tensors if t.is_matrix and plan[t.name].type not in ("F32", "F16", "BF16")
             and "excluded" not in (plan[t.name].reason or "")]
    score = sensitivity(source, stats, names)
    extra = {n: _bytes(fit("Q8_0", source.tensor(n).row_len).type, source.tensor(n)) - size[n] for n in names}
    order = sorted(names, key=lambda n: score[n] / max(extra[n], 1), reverse=True)
    promoted = set()
    for n in order:
        if extra[n] > 0 and total + extra[n] <= budget:
            promoted.add(n)
            total += extra[n]
    ranking = ", ".join(f"{n}={score[n]:.4f}" for n in sorted(names, key=score.get, reverse=True)[:8])
    msg = (f"mixed: {len(promoted)} of {len(names)} matrices at Q8_0 for a budget of {target_bpw} "
           f"bits/weight ({8 * total / n_el:.2f} used); most sensitive: {ranking}")
    return promoted, msg


def _bytes(type_name, t) -> int:
    return t.n_rows * block_formats.row_nbytes(type_name, t.row_len)
