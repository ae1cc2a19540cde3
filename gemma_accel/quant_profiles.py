"""Quantization profiles: which ggml type each tensor gets.

    choose_type("q4_k", "blk.0.attn_q.weight", (1024, 640), is_head=False)
        -> TypeChoice(type="Q5_0", wanted="Q4_K", reason="row length 640 is not a multiple of 256")

Rules shared by every profile (llama.cpp's): norms and other 1-D tensors stay
F32; K-quants need row lengths that are multiples of 256 and fall back
Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0 (llama-quant.cpp); 32-element block types
need multiples of 32, else F16.  The "head" is output.weight, or the token
embedding when the head is tied to it (Gemma).
"""
from __future__ import annotations

from dataclasses import dataclass

from .tensor_names import is_norm

#: Profiles quantize() accepts.  f32/f16/bf16 only convert (e.g. to make a source GGUF).
PROFILES = ("q8_0", "q4_0", "q4_1", "q4_k", "int4-aggressive", "int4-balanced", "awq-lite", "mixed",
            "f32", "f16", "bf16")

_K_FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
_BLOCK = {"Q4_0": 32, "Q4_1": 32, "Q5_0": 32, "Q5_1": 32, "Q8_0": 32, "Q4_K": 256, "Q5_K": 256,
          "Q6_K": 256, "F32": 1, "F16": 1, "BF16": 1}
_INT4_FALLBACK = {"Q4_K": "Q4_0"}  # 4-bit profiles stay at 4 bits when Q4_K does not fit

#: int4-balanced keeps these tensor kinds at 8 bits (Q8_0) and everything else at 4.
#: Chosen by measurement, not folklore: benchmarks/quant_quality.py quantizes one
#: tensor kind at a time to Q4_0 (the rest at source precision) and measures the KL
#: divergence on the calibration text; results/quant_sensitivity.md holds the ranking.
#: Measured on Gemma 3 270M: by KL per byte saved the order is attn_v, attn_k, ffn_up,
#: ffn_down, ffn_gate, attn_output, attn_q, token_embd; by absolute KL the embedding
#: (the tied head) is second.  Kept at 8 bits: the top four per byte and the embedding.
BALANCED_8BIT_KINDS = ("attn_v", "attn_k", "ffn_up", "ffn_down", "token_embd")

# ggml type -> llama_ftype written as general.file_type ("mostly <type>").
FILE_TYPES = {"F32": 0, "F16": 1, "Q4_0": 2, "Q4_1": 3, "Q8_0": 7, "Q5_0": 8, "Q5_1": 9,
              "Q4_K": 15, "Q5_K": 17, "Q6_K": 18, "BF16": 32}


@dataclass(frozen=True)
class TypeChoice:
    type: str                 # what is written
    wanted: str               # what the profile asked for
    reason: str | None = None  # why they differ (a fallback), or None


def tensor_kind(name: str) -> str:
    """'blk.3.attn_q.weight' -> 'attn_q'; 'token_embd.weight' -> 'token_embd'."""
    base = name[: -len(".weight")] if name.endswith(".weight") else name
    return base.split(".")[-1]


def fit(wanted: str, row_len: int, fallbacks=_K_FALLBACK) -> TypeChoice:
    """wanted, or the fallback whose block fits row_len (llama.cpp's order)."""
    t = wanted
    if row_len % _BLOCK[t] and t in fallbacks:
        t = fallbacks[t]
    if row_len % _BLOCK[t]:
        t = "F16"
    if t == wanted:
        return TypeChoice(t, wanted)
    block = _BLOCK[wanted]
    return TypeChoice(t, wanted, f"row length {row_len} is not a multiple of {block}")


def base_choice(profile: str, name: str, shape: tuple, is_head: bool) -> TypeChoice:
    """The profile's static type for one tensor (mixed: its 4-bit choice; the
    quantizer promotes some tensors to 8 bits from measured sensitivity)."""
    row_len = int(shape[-1])
    if len(shape) < 2 or is_norm(name):
        return TypeChoice("F32", "F32")
    if profile in ("f32", "f16", "bf16"):
        return TypeChoice(profile.upper(), profile.upper())
    if profile == "q8_0":
        return fit("Q8_0", row_len)
    if profile in ("q4_0", "q4_1", "awq-lite"):
        if is_head:  # llama.cpp's Q4_0/Q4_1 keep the head at Q6_K (Q8_0 when rows do not fit)
            return fit("Q6_K", row_len)
        return fit("Q4_1" if profile == "q4_1" else "Q4_0", row_len)
    if profile == "q4_k":
        return fit("Q6_K" if is_head else "Q4_K", row_len)
    if profile in ("int4-aggressive", "mixed"):
        return fit("Q4_K", row_len, _INT4_FALLBACK)
    if profile == "int4-balanced":
        if tensor_kind(name) in BALANCED_8BIT_KINDS or (is_head and "token_embd" in BALANCED_8BIT_KINDS):
            return fit("Q8_0", row_len)
        return fit("Q4_K", row_len, _INT4_FALLBACK)
    raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")


def file_type(matrix_type_counts: dict) -> int:
    """general.file_type ("mostly <type>"): the type most matrices have."""
    quantized = {t: n for t, n in matrix_type_counts.items() if t != "F32"} or matrix_type_counts or {"F32": 1}
    main = max(quantized, key=quantized.get)
    return FILE_TYPES.get(main, 0)
