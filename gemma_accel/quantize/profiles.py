"""Quantization profiles: which ggml type each tensor gets.

    base_choice("q4_k", "blk.0.attn_q.weight", (1024, 640), is_head=False)
        -> TypeChoice(type="Q5_0", wanted="Q4_K", reason="row length 640 is not a multiple of 256")

Rules shared by every profile (llama.cpp's): norms and other 1-D tensors stay
F32; K-quants need row lengths that are multiples of 256 and fall back
Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0 (llama-quant.cpp); 32-element block types
need multiples of 32, else F16.  The "head" is output.weight, or the token
embedding when the head is tied to it (Gemma).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..tensor_names import is_norm

#: Profiles quantize() accepts.  f32/f16/bf16 only convert (e.g. to make a source GGUF).
PROFILES = ("q8_0", "q4_0", "q4_1", "q4_k", "int4-aggressive", "int4-balanced", "awq-lite", "mixed",
            "f32", "f16", "bf16")

_K_FALLBACK = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}
_BLOCK = {"Q4_0": 32, "Q4_1": 32, "Q5_0": 32, "Q5_1": 32, "Q8_0": 32, "Q4_K": 256, "Q5_K": 256,
          "Q6_K": 256, "F32": 1, "F16": 1, "BF16": 1}
_INT4_FALLBACK = {"Q4_K": "Q4_0"}  # 4-bit profiles stay at 4 bits when Q4_K does not fit

#: int4-balanced and mixed store each matrix at a base type and promote those whose
#: measured sensitivity (quantize/sensitivity.py) saves the most KL divergence per extra
#: byte, within a size budget: {profile: (base, promoted, fallbacks)} before row fitting.
#: int4-balanced uses llama.cpp's Q4_K_M ladder (Q4_K -> Q6_K, falling back to Q5_0 -> Q8_0
#: on rows that are not multiples of 256) and its budget is the size of llama.cpp's own
#: Q4_K_M recipe for the same model (llama_q4_k_m below): same types, same size, but
#: which tensors get more bits is measured instead of fixed by layer position.
LADDERS = {"int4-balanced": ("Q4_K", "Q6_K", _K_FALLBACK),
           "mixed": ("Q4_K", "Q8_0", _INT4_FALLBACK)}


def ladder(profile: str, row_len: int) -> tuple:
    """(base TypeChoice, promoted TypeChoice) of a matrix for int4-balanced / mixed."""
    base, promoted, fallbacks = LADDERS[profile]
    return fit(base, row_len, fallbacks), fit(promoted, row_len)


def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def llama_q4_k_m(name: str, shape: tuple, is_head: bool, n_layer: int) -> str:
    """The type llama.cpp's Q4_K_M recipe (llama-quant.cpp, no imatrix) gives a tensor of a
    dense model: the head Q6_K; attn_v and ffn_down Q6_K in the layers use_more_bits picks
    (the first and last eighth and every third between); every other matrix Q4_K; row-length
    fallbacks as fit().  Used for int4-balanced's size budget."""
    if len(shape) < 2 or is_norm(name):
        return "F32"
    want = "Q4_K"
    m = re.match(r"blk\.(\d+)\.", name)
    if is_head:
        want = "Q6_K"
    elif m and tensor_kind(name) in ("attn_v", "ffn_down") and _use_more_bits(int(m.group(1)), n_layer):
        want = "Q6_K"
    return fit(want, int(shape[-1])).type


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
    """The profile's static type for one tensor (int4-balanced / mixed: the base of its
    ladder; the quantizer promotes some tensors from measured sensitivity)."""
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
    if profile == "int4-aggressive":
        return fit("Q4_K", row_len, _INT4_FALLBACK)
    if profile in LADDERS:
        return ladder(profile, row_len)[0]
    raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")


def file_type(matrix_type_counts: dict) -> int:
    """general.file_type ("mostly <type>"): the type most matrices have."""
    quantized = {t: n for t, n in matrix_type_counts.items() if t != "F32"} or matrix_type_counts or {"F32": 1}
    main = max(quantized, key=quantized.get)
    return FILE_TYPES.get(main, 0)
