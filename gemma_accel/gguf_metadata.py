"""GGUF metadata for a quantized file: the keys llama.cpp's loader needs.

From a GGUF source every key is carried over with its type (general.file_type
updated).  From a Hugging Face folder the architecture keys are written as
llama.cpp's convert_hf_to_gguf writes them, and the tokenizer comes from
tokenizer.json (SentencePiece-style vocabularies -> tokenizer.ggml.model
"llama"; byte-level BPE -> "gpt2" with merges); the chat template from
chat_template.jinja or tokenizer_config.json.
"""
from __future__ import annotations

import json
import logging
import os

import numpy as np

from ._core import Error

log = logging.getLogger(__name__)

# llama token types (tokenizer.ggml.token_type)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def from_gguf(metadata: dict, types: dict, file_type: int) -> list:
    """[(key, value, type)] carrying a GGUF's metadata over, file_type replaced."""
    out = []
    for key, value in metadata.items():
        if key in ("general.file_type", "general.alignment"):
            continue
        out.append((key, value, types[key]))
    out.append(("general.file_type", file_type, "UINT32"))
    if "general.quantization_version" not in metadata:
        out.append(("general.quantization_version", 2, "UINT32"))
    return out


def from_hf(source, file_type: int) -> list:
    """[(key, value, type)] for an HFFolderCheckpoint: architecture keys, then the tokenizer."""
    cfg, hp, arch = source.config, source.hparams, source.arch
    name = cfg.get("_name_or_path") or os.path.basename(os.path.normpath(str(source.path)))
    out = [("general.architecture", arch, "STRING"), ("general.name", str(name), "STRING")]

    def a(key, value, type="UINT32"):
        out.append((f"{arch}.{key}", value, type))

    a("context_length", hp["n_ctx_train"])
    a("embedding_length", hp["n_embd"])
    a("block_count", hp["n_layer"])
    a("feed_forward_length", hp["n_ff"])
    a("attention.head_count", hp["n_head"])
    a("attention.head_count_kv", hp["n_head_kv"])
    a("attention.key_length", hp["head_dim"])
    a("attention.value_length", hp["head_dim"])
    a("attention.layer_norm_rms_epsilon", float(hp["norm_eps"]), "FLOAT32")
    a("rope.freq_base", float(hp["rope_base"]), "FLOAT32")
    if arch == "llama":
        a("rope.dimension_count", hp["head_dim"])
        a("vocab_size", hp["n_vocab"])
    if arch in ("gemma2", "gemma3"):
        a("attention.sliding_window", hp["sliding_window"])
    if hp["rope_freq_scale"] != 1.0:
        a("rope.scaling.type", "linear", "STRING")
        a("rope.scaling.factor", float(1.0 / hp["rope_freq_scale"]), "FLOAT32")
    if arch == "gemma2":
        a("attn_logit_softcapping", float(hp["attn_softcap"]), "FLOAT32")
        a("final_logit_softcapping", float(hp["final_softcap"]), "FLOAT32")
    if arch == "gemma3" and hp["final_softcap"]:
        a("final_logit_softcapping", float(hp["final_softcap"]), "FLOAT32")
    out.append(("general.file_type", file_type, "UINT32"))
    out.append(("general.quantization_version", 2, "UINT32"))
    out += tokenizer_from_hf(source.path, cfg, hp["n_vocab"])
    return out


# ------------------------------------------------------------------ tokenizer

def _token_id(config: dict, tok_cfg: dict, vocab: dict, key: str):
    value = tok_cfg.get(key)
    if isinstance(value, dict):
        value = value.get("content")
    if isinstance(value, str) and value in vocab:
        return vocab[value]
    value = config.get(key + "_id")
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, int) else None


def _bpe_pre(tj: dict) -> str:
    """llama.cpp's pre-tokenizer name for a byte-level BPE tokenizer.json: digits split one by one
    before the GPT-2 regex (Digits + ByteLevel, SmolLM / StarCoder) is "smollm"; a plain
    ByteLevel pre-tokenizer with the GPT-2 regex is "gpt-2"."""
    pre = tj.get("pre_tokenizer") or {}
    parts = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    if any(p.get("type") == "Digits" and p.get("individual_digits") for p in parts):
        return "smollm"
    return "gpt-2"


def tokenizer_from_hf(folder, config: dict, n_vocab: int) -> list:
    """tokenizer.* keys from a folder's tokenizer.json (+ tokenizer_config.json,
    chat_template.jinja).  A folder without tokenizer.json gets no tokenizer
    keys (a warning): the file then runs from token ids only."""
    folder = os.fspath(folder)
    path = os.path.join(folder, "tokenizer.json")
    if not os.path.isfile(path):
        log.warning("%s has no tokenizer.json: the GGUF gets no tokenizer", folder)
        return []
    with open(path, encoding="utf-8") as f:
        tj = json.load(f)
    tok_cfg = {}
    cfg_path = os.path.join(folder, "tokenizer_config.json")
    if os.path.isfile(cfg_path):
        with open(cfg_path, encoding="utf-8") as f:
            tok_cfg = json.load(f)
    model = tj.get("model") or {}
    mtype = model.get("type")
    vocab = model.get("vocab")
    if mtype == "Unigram":
        pieces = [p[0] for p in vocab]
        scores = np.array([float(p[1]) for p in vocab], np.float32)
    elif mtype == "BPE" and isinstance(vocab, dict):
        pieces = [None] * (max(vocab.values()) + 1)
        for piece, i in vocab.items():
            pieces[i] = piece
        scores = -np.arange(len(pieces), dtype=np.float32)  # SentencePiece BPE: earlier = merged first
    else:
        raise Error(f"{path}: tokenizer model {mtype!r} is not supported (Unigram or BPE)")
    added = {t["id"]: t for t in tj.get("added_tokens", [])}
    size = max(n_vocab, len(pieces), max(added, default=-1) + 1)
    pieces += [None] * (size - len(pieces))
    scores = np.concatenate([scores, np.zeros(size - len(scores), np.float32)])
    for i, t in added.items():
        pieces[i] = t["content"]
    byte_level = "<0x0A>" not in (vocab if isinstance(vocab, dict) else set(pieces))
    types = np.full(size, NORMAL, np.int32)
    for i, p in enumerate(pieces):
        if p is None:
            pieces[i], types[i] = f"[PAD{i}]", UNUSED
        elif i in added:
            types[i] = CONTROL if added[i].get("special") else USER_DEFINED
        elif not byte_level and len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
            types[i] = BYTE
    unk = model.get("unk_token") if mtype == "BPE" else None
    lookup = {p: i for i, p in enumerate(pieces)}
    out = []
    if byte_level:
        merges = model.get("merges") or []
        merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
        out += [("tokenizer.ggml.model", "gpt2", "STRING"), ("tokenizer.ggml.pre", _bpe_pre(tj), "STRING"),
                ("tokenizer.ggml.tokens", pieces, "ARRAY[STRING]"),
                ("tokenizer.ggml.token_type", types, "ARRAY[INT32]"),
                ("tokenizer.ggml.merges", merges, "ARRAY[STRING]")]
    else:
        scores[types == CONTROL] = -1000.0
        if mtype == "Unigram" and model.get("unk_id") is not None:
            types[int(model["unk_id"])] = UNKNOWN
        elif unk in lookup:
            types[lookup[unk]] = UNKNOWN
        normalizer = json.dumps(tj.get("normalizer") or {})
        out += [("tokenizer.ggml.model", "llama", "STRING"), ("tokenizer.ggml.pre", "default", "STRING"),
                ("tokenizer.ggml.tokens", pieces, "ARRAY[STRING]"),
                ("tokenizer.ggml.scores", scores, "ARRAY[FLOAT32]"),
                ("tokenizer.ggml.token_type", types, "ARRAY[INT32]"),
                ("tokenizer.ggml.add_space_prefix", '"Prepend"' in normalizer, "BOOL")]
    for key, gguf_key in (("bos_token", "bos"), ("eos_token", "eos"), ("unk_token", "unknown"),
                          ("pad_token", "padding")):
        tid = _token_id(config, tok_cfg, lookup, key)
        if tid is not None:
            out.append((f"tokenizer.ggml.{gguf_key}_token_id", int(tid), "UINT32"))
    if "add_bos_token" in tok_cfg:
        out.append(("tokenizer.ggml.add_bos_token", bool(tok_cfg["add_bos_token"]), "BOOL"))
    if "add_eos_token" in tok_cfg:
        out.append(("tokenizer.ggml.add_eos_token", bool(tok_cfg["add_eos_token"]), "BOOL"))
    template = None
    jinja = os.path.join(folder, "chat_template.jinja")
    if os.path.isfile(jinja):
        with open(jinja, encoding="utf-8") as f:
            template = f.read()
    elif isinstance(tok_cfg.get("chat_template"), str):
        template = tok_cfg["chat_template"]
    if template:
        out.append(("tokenizer.chat_template", template, "STRING"))
    return out
