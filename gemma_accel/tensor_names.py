"""Hugging Face tensor names -> GGUF tensor names (llama.cpp's convention).

The quantizer writes GGUF names; the loader reads Hugging Face folders through
the same table, so the model code only ever sees GGUF names.
"""
import re

# Prefixes under which the text decoder lives, most specific first.
_HF_PREFIXES = ("model.language_model.", "language_model.model.", "model.")

_LAYER_SUFFIXES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "post_attention_norm.weight",
    "pre_feedforward_layernorm.weight": "ffn_norm.weight",
    "post_feedforward_layernorm.weight": "post_ffw_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_TOP = {"embed_tokens.weight": "token_embd.weight", "norm.weight": "output_norm.weight"}
_LAYER_RE = re.compile(r"layers\.(\d+)\.(.+)")
# Tensors a multimodal checkpoint carries beside its text decoder, and buffers that
# are not weights: the text model does not use them.
_NOT_TEXT_RE = re.compile(r"(model\.)?(vision_tower|vision_model|multi_modal_projector|audio_tower|"
                          r"embed_vision|embed_audio)\..+|.*\.rotary_emb\.inv_freq")


class UnknownTensorError(KeyError):
    """A checkpoint tensor that is neither part of the text decoder nor known to be unused."""


def hf_to_gguf(name: str, arch: str) -> str | None:
    """GGUF name for a Hugging Face tensor, or None for tensors the text model does not use
    (vision tower, projector, rotary buffers).  Raises UnknownTensorError for any other
    tensor: a weight nobody maps must never be dropped silently.

    Gemma 1 and llama have no pre/post feed-forward norms: their
    post_attention_layernorm is really the norm before the MLP (GGUF ffn_norm).
    """
    if name == "lm_head.weight":
        return "output.weight"
    if _NOT_TEXT_RE.fullmatch(name):
        return None
    short = name
    for prefix in _HF_PREFIXES:
        if name.startswith(prefix):
            short = name[len(prefix):]
            break
    if short in _TOP:
        return _TOP[short]
    m = _LAYER_RE.fullmatch(short)
    if not m or m.group(2) not in _LAYER_SUFFIXES:
        raise UnknownTensorError(name)
    suffix = _LAYER_SUFFIXES[m.group(2)]
    if arch in ("gemma", "llama") and m.group(2) == "post_attention_layernorm.weight":
        suffix = "ffn_norm.weight"
    return f"blk.{m.group(1)}.{suffix}"


def map_hf_names(names, arch: str, where: str) -> dict:
    """{hf name: GGUF name} for the text-decoder tensors among names.  Raises
    ModelFormatError naming every tensor it does not know."""
    from ._core import ModelFormatError

    out, unknown = {}, []
    for name in names:
        try:
            gguf = hf_to_gguf(name, arch)
        except UnknownTensorError:
            unknown.append(name)
            continue
        if gguf is not None:
            out[name] = gguf
    if unknown:
        shown = ", ".join(unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
        raise ModelFormatError(f"{where}: {len(unknown)} tensors this {arch} loader does not know: {shown}")
    return out


def is_norm(gguf_name: str) -> bool:
    """True for the 1-D norm weights (kept in F32, never quantized)."""
    return gguf_name.endswith("norm.weight")
