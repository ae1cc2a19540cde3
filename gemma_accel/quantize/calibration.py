"""Calibration: run text through the source model in NumPy and record what each matrix sees.

    stats = collect(source, text)                 # source: checkpoint.Checkpoint
    stats.mean_abs["blk.3.attn_q.weight"]        # per-input-channel mean |x|   (AWQ)
    stats.mean_sq["blk.3.attn_q.weight"]         # per-input-channel mean x^2   (sensitivity)
    stats.samples["blk.3.attn_q.weight"]         # (<=256, D) inputs of q/k/v, subsampled rows

The forward pass is a plain float32 NumPy transcription of the decoder the C
engine runs (Gemma 1/2/3 and llama, from the same hparams), over the source's
own weights read one layer at a time (their pages released after reading), so
it needs no torch and no C hooks.  Memory: one layer's weights in float32 plus
activations of MAX_TOKENS tokens; the embedding is read only for the rows the
text uses, and no logits over the vocabulary are formed.  It is validated
against Model.logits in tests/test_quantize_llama_cpp.py.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._core import Error

DEFAULT_CALIBRATION = Path(__file__).with_name("calibration.txt")
MAX_TOKENS = 1024   # calibration tokens used (one sequence)
MAX_SAMPLES = 256   # token rows kept per norm group for the AWQ search


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
        from ..tokenizer import Tokenizer
        if "tokenizer.ggml.tokens" not in source.metadata:
            raise Error(f"{source.path}: no tokenizer, so no calibration text can be encoded")
        return Tokenizer.from_gguf_metadata(source.metadata)
    from ..tokenizer import Tokenizer
    tok = Tokenizer.from_hf_folder(source.path, source.config, source.hparams["n_vocab"])
    if tok is None:
        raise Error(f"{source.path}: no tokenizer.json, so no calibration text can be encoded")
    return tok


def _rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _gelu_tanh(x):
    # x * x * x, not x ** 3: numpy's float32 power is ~100x slower than two multiplies
    return 0.5 * x * (1.0 + np.tanh(0.7978845608028654 * (x + 0.044715 * (x * x * x))))


def _rope(x, pos, base, scale, neox):
    """x: (n, heads, d) at positions pos (n,).  neox rotates halves; otherwise adjacent pairs (GGUF llama)."""
    d = x.shape[-1]
    inv = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = (np.asarray(pos, np.float64)[:, None] * scale) * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :].astype(np.float32), np.sin(ang)[:, None, :].astype(np.float32)
    if neox:
        a, b = x[..., : d // 2], x[..., d // 2:]
        return np.concatenate([a * cos - b * sin, a * sin + b * cos], axis=-1)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
    return out


LAYER_KINDS = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_q_norm", "attn_k_norm", "attn_output",
               "post_attention_norm", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "post_ffw_norm")


def load_layer(source, layer: int) -> dict:
    """{kind: float32 weights} of one layer, read from the source and its pages released."""
    out = {}
    for kind in LAYER_KINDS:
        name = f"blk.{layer}.{kind}.weight"
        if name in source:
            t = source.tensor(name)
            out[kind] = t.read()
            t.release(0, t.n_rows)
    return out


class Forward:
    """The decoder in NumPy over a Source.  .run(ids, hook) calls hook(name, x) with the
    input x of every matrix (name = its GGUF name; 'head' for the output projection).
    The block methods take a layer's weights as a dict (load_layer), so a caller can
    swap one matrix for its quantized copy; `rows` restricts the queries (and so the
    outputs) to those positions, keys and values always span all positions."""

    def __init__(self, source):
        self.src, self.hp = source, source.hparams
        self.neox = bool(self.hp["rope_neox"]) if source.kind == "gguf" else source.arch != "llama"

    def embed(self, ids, rows_of=None):
        """Scaled embedding rows of ids (rows_of: optional (r0, r1) -> rows reader, e.g. quantized)."""
        t = self.src.tensor("token_embd.weight")
        read = rows_of or t.read_rows
        out = np.empty((len(ids), t.row_len), np.float32)
        for i, tok in enumerate(ids):
            out[i] = read(int(tok), int(tok) + 1)[0]
            if i % 32 == 31:  # each scattered row read maps its neighbourhood too (fault-around)
                t.release(0, t.n_rows)
        t.release(0, t.n_rows)
        if self.hp["embed_scale"]:
            out *= np.float32(math.sqrt(self.hp["n_embd"]))
        return out

    def attention(self, h, W, layer, rows=None, hook=None):
        """Residual contribution of layer's attention block for h (n, D); rows: query positions."""
        hp, eps = self.hp, self.hp["norm_eps"]
        n = h.shape[0]
        H, Hkv, d = hp["n_head"], hp["n_head_kv"], hp["head_dim"]
        rows = np.arange(n) if rows is None else np.asarray(rows)
        x = _rmsnorm(h, W["attn_norm"], eps)
        if hook is not None:
            for k in ("attn_q", "attn_k", "attn_v"):
                hook(f"blk.{layer}.{k}.weight", x)
        q = (x[rows] @ W["attn_q"].T).reshape(len(rows), H, d)
        k = (x @ W["attn_k"].T).reshape(n, Hkv, d)
        v = (x @ W["attn_v"].T).reshape(n, Hkv, d)
        if hp["qk_norm"]:
            q, k = _rmsnorm(q, W["attn_q_norm"], eps), _rmsnorm(k, W["attn_k_norm"], eps)
        swa = hp["layer_swa"][layer] and hp["sliding_window"]
        base = hp["rope_base_swa"] if swa else hp["rope_base"]
        fscale = hp["rope_freq_scale_swa"] if swa else hp["rope_freq_scale"]
        q, k = _rope(q, rows, base, fscale, self.neox), _rope(k, np.arange(n), base, fscale, self.neox)
        i, j = rows[:, None], np.arange(n)[None, :]
        mask = j > i
        if swa:
            mask |= (i - j) >= hp["sliding_window"]
        rep = H // Hkv
        out = np.empty((len(rows), H, d), np.float32)
        for hh in range(H):
            s = (q[:, hh] @ k[:, hh // rep].T) * np.float32(hp["attn_scale"])
            if hp["attn_softcap"]:
                s = np.tanh(s / hp["attn_softcap"]) * hp["attn_softcap"]
            s = np.where(mask, -np.inf, s)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            out[:, hh] = (s / s.sum(axis=1, keepdims=True)) @ v[:, hh // rep]
        out = out.reshape(len(rows), H * d)
        if hook is not None:
            hook(f"blk.{layer}.attn_output.weight", out)
        o = out @ W["attn_output"].T
        if hp["post_norms"]:
            o = _rmsnorm(o, W["post_attention_norm"], eps)
        return o

    def ffn(self, h, W, layer, hook=None):
        """Residual contribution of layer's feed-forward block for h (n, D)."""
        hp, eps = self.hp, self.hp["norm_eps"]
        x = _rmsnorm(h, W["ffn_norm"], eps)
        if hook is not None:
            hook(f"blk.{layer}.ffn_gate.weight", x)
            hook(f"blk.{layer}.ffn_up.weight", x)
        g, u = x @ W["ffn_gate"].T, x @ W["ffn_up"].T
        a = (_gelu_tanh(g) if hp["act_gelu"] else g / (1.0 + np.exp(-g))) * u
        if hook is not None:
            hook(f"blk.{layer}.ffn_down.weight", a)
        o = a @ W["ffn_down"].T
        if hp["post_norms"]:
            o = _rmsnorm(o, W["post_ffw_norm"], eps)
        return o

    def layer(self, h, W, layer, hook=None):
        h = (h + self.attention(h, W, layer, hook=hook)).astype(np.float32)
        return (h + self.ffn(h, W, layer, hook=hook)).astype(np.float32)

    def final_norm(self, h):
        t = self.src.tensor("output_norm.weight")
        w = t.read().reshape(-1)
        t.release(0, t.n_rows)
        return _rmsnorm(h, w, self.hp["norm_eps"])

    def run(self, ids, hook=lambda name, x: None):
        """The final normed hidden states (n, D) of ids; one layer's weights in memory at a time."""
        h = self.embed(ids)
        for layer in range(self.hp["n_layer"]):
            h = self.layer(h, load_layer(self.src, layer), layer, hook)
        x = self.final_norm(h)
        hook("head", x)
        return x


def head_name(source) -> str:
    return "output.weight" if "output.weight" in source else "token_embd.weight"


def collect(source, text: str, *, want_samples: bool = True, max_tokens: int = MAX_TOKENS) -> Stats:
    """Per-input-channel activation statistics of every matrix on the calibration text."""
    ids = calibration_ids(source, text, max_tokens)
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


def calibration_ids(source, text: str, max_tokens: int = MAX_TOKENS) -> list:
    ids = tokenizer_of(source).encode(text, add_bos=True)[:max_tokens]
    if len(ids) < 16:
        raise Error(f"the calibration text is too short ({len(ids)} tokens)")
    return ids


