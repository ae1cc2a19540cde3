"""Text <-> token ids for GGUF vocabularies, identical to llama.cpp.

    >>> tok = Tokenizer.from_gguf_metadata(metadata)     # dict of tokenizer.* keys
    >>> ids = tok.encode("<start_of_turn>user\\nHi<end_of_turn>", special=True)
    >>> tok.decode(ids, special=True)

The work happens in C (``_core.Tokenizer``); this module reads the GGUF keys,
applies llama.cpp's defaults and its by-text detection of end-of-generation
and other control tokens (``llama_vocab::impl::load``), and wraps the result.
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np

from ._core import Error
from ._core import Tokenizer as _CTokenizer

__all__ = ["Tokenizer"]

# llama token types (tokenizer.ggml.token_type)
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6

# Texts llama.cpp recognises when the file does not name the token (llama-vocab.cpp).
_EOT_TEXTS = ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
              "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>",
              "<end_of_utterance>")
_EOM_TEXTS = ("<|eom_id|>",)
_FIM_TEXTS = {
    "fim_pre": ("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>",
                "▁<PRE>", "<|code_prefix|>", "<|prefix|>"),
    "fim_suf": ("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>",
                "▁<SUF>", "<|code_suffix|>", "<|suffix|>"),
    "fim_mid": ("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>",
                "▁<MID>", "<|code_middle|>", "<|middle|>"),
    "fim_pad": ("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"),
    "fim_rep": ("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"),
    "fim_sep": ("<|file_sep|>",),
}
_EOG_TEXTS = ("<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
              "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
              "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
              "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[")
_ALWAYS_RENDERED = ("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>")

# Defaults llama.cpp uses when a key is absent, per tokenizer.ggml.model.
_DEFAULTS = {
    "llama": dict(bos=1, eos=2, unk=0, add_bos=True, add_eos=False, add_space_prefix=True),
    "gpt2": dict(bos=11, eos=11, unk=-1, add_bos=False, add_eos=False, add_space_prefix=False),
}


def _text(t) -> str:
    return t if isinstance(t, str) else bytes(t).decode("utf-8", errors="surrogateescape")


class _FirstIndex:
    """get(text): the first token id whose text is text (one of `wanted`), or None.  One
    C-speed membership pass over the token values (str, or bytes where not UTF-8) instead
    of decoding all of them: a 262144-token vocabulary takes a few ms instead of ~160 ms."""

    def __init__(self, tokens, wanted):
        self._first = {}
        keys = set(wanted) | {w.encode("utf-8", "surrogateescape") for w in wanted}
        try:  # a C-speed pass finds which keys occur, list.index where each first does
            hits = sorted(tokens.index(k) for k in keys.intersection(tokens))
        except TypeError:  # unhashable token objects: decode them all
            hits = range(len(tokens))
        for i in hits:
            self._first.setdefault(_text(tokens[i]), i)

    def get(self, text):
        return self._first.get(text)


class Tokenizer:
    """A GGUF vocabulary's tokenizer; encode/decode run in C and release the GIL."""

    def __init__(self, tokens: Sequence, scores, types, *, model: str = "llama",
                 pre: str = "default", merges: Sequence | None = None, bos_id: int = -1,
                 eos_id: int = -1, unk_id: int = -1, eot_id: int = -1,
                 add_bos: bool = True, add_eos: bool = False, add_space_prefix: bool = True,
                 eog_ids: Iterable[int] = ()):
        if model not in _DEFAULTS:
            raise Error(f"tokenizer model '{model}' not supported yet")
        self.model = model
        self.bos_id, self.eos_id, self.unk_id, self.eot_id = bos_id, eos_id, unk_id, eot_id
        self.add_bos, self.add_eos = bool(add_bos), bool(add_eos)
        self.eog_ids = frozenset(int(i) for i in eog_ids)
        self._c = _CTokenizer(tokens, scores, types, bos_id, eos_id, unk_id, add_bos,
                              add_space_prefix, add_eos, model=model, pre=pre, merges=merges)

    @classmethod
    def from_gguf_metadata(cls, metadata: Mapping, *, raw_decode: bool = False) -> "Tokenizer":
        """Builds the tokenizer from a GGUF metadata dict (the tokenizer.ggml.* keys).

        Raises gemma_accel.Error for a tokenizer model other than "llama" (SPM)
        or "gpt2" (BPE), and for missing tokens.  raw_decode: the vocabulary decodes
        to its raw bytes, as a Hugging Face tokenizer.json does; only then is the
        plain "gpt-2" pre-tokenizer taken (llama.cpp also cleans spaces around
        punctuation when decoding such a GGUF, which is not implemented here).
        """
        model = _text(metadata.get("tokenizer.ggml.model", "llama"))
        if model not in _DEFAULTS:
            raise Error(f"tokenizer model '{model}' not supported yet")
        pre = _text(metadata.get("tokenizer.ggml.pre", "default"))
        if model == "gpt2" and pre == "gpt-2" and not raw_decode:
            raise Error("tokenizer pre-tokenizer 'gpt-2' for model 'gpt2' not supported yet in GGUF files "
                        "(llama.cpp's clean-up of spaces when decoding is not implemented)")
        tokens = metadata.get("tokenizer.ggml.tokens")
        if tokens is None or len(tokens) == 0:
            raise Error("the metadata has no tokenizer.ggml.tokens")
        tokens = list(tokens)
        n = len(tokens)
        scores = metadata.get("tokenizer.ggml.scores")
        scores = None if scores is None else np.asarray(scores, dtype=np.float32)
        types = metadata.get("tokenizer.ggml.token_type")
        types = (np.full(n, NORMAL, np.int32) if types is None
                 else np.array(types, dtype=np.int32)[:n].copy())
        merges = metadata.get("tokenizer.ggml.merges")
        d = _DEFAULTS[model]

        def special_id(key: str, default: int) -> int:
            default = default if 0 <= default < n else -1
            v = metadata.get(f"tokenizer.ggml.{key}_token_id")
            return int(v) if v is not None and 0 <= int(v) < n else default

        def flag(key: str, default: bool) -> bool:
            v = metadata.get(f"tokenizer.ggml.{key}")
            return default if v is None else bool(v)

        bos, eos, unk = special_id("bos", d["bos"]), special_id("eos", d["eos"]), special_id("unknown", d["unk"])
        ids = {k: special_id(k, -1) for k in ("eot", "eom", *_FIM_TEXTS)}
        for k, old in (("fim_pre", "prefix"), ("fim_suf", "suffix"), ("fim_mid", "middle")):
            if ids[k] < 0:
                ids[k] = special_id(old, -1)

        # By-text detection, as llama_vocab::impl::load: the first match names
        # the token and forces it to CONTROL.
        by_text = _FirstIndex(tokens, [*_EOT_TEXTS, *_EOM_TEXTS, *(t for ts in _FIM_TEXTS.values() for t in ts),
                                       *_EOG_TEXTS, *_ALWAYS_RENDERED])

        def detect(texts: Sequence[str]) -> int:
            for t in texts:
                i = by_text.get(t)
                if i is not None:
                    types[i] = CONTROL
                    return i
            return -1

        if ids["eot"] < 0:
            ids["eot"] = detect(_EOT_TEXTS)
        if ids["eom"] < 0:
            ids["eom"] = detect(_EOM_TEXTS)
        for k, texts in _FIM_TEXTS.items():
            if ids[k] < 0:
                ids[k] = detect(texts)
        eog = {ids[k] for k in ("fim_pad", "fim_rep", "fim_sep") if ids[k] >= 0}
        for t in _EOG_TEXTS:
            i = by_text.get(t)
            if i is not None:
                eog.add(i)
                types[i] = CONTROL
        for t in _ALWAYS_RENDERED:
            i = by_text.get(t)
            if i is not None:
                types[i] = USER_DEFINED
        eog |= {i for i in (eos, ids["eot"], ids["eom"]) if i >= 0}
        texts_of = {i: _text(tokens[i]) for i in eog}
        present = set(texts_of.values())
        if (("<|return|>" in present and "<|call|>" in present) or
                ({"<|calls|>", "<|flush|>"} <= present)) and "<|end|>" in present:
            end = next(i for i, t in texts_of.items() if t == "<|end|>")
            eog.discard(end)
            types[end] = USER_DEFINED
        if "<|tool_response>" in present and "</s>" in present:
            s = next(i for i, t in texts_of.items() if t == "</s>")
            eog.discard(s)
            types[s] = NORMAL

        return cls(tokens, scores, types, model=model, pre=pre, merges=merges, bos_id=bos,
                   eos_id=eos, unk_id=unk, eot_id=ids["eot"],
                   add_bos=flag("add_bos_token", d["add_bos"]),
                   add_eos=flag("add_eos_token", d["add_eos"]),
                   add_space_prefix=flag("add_space_prefix", d["add_space_prefix"]),
                   eog_ids=eog)

    @classmethod
    def from_hf_folder(cls, folder, config: Mapping, n_vocab: int) -> "Tokenizer | None":
        """The tokenizer of a Hugging Face folder: its tokenizer.json (+ tokenizer_config.json)
        turned into the tokenizer.ggml.* keys the GGUF converter writes, so a folder and its
        converted GGUF tokenize alike and stop on the same end-of-generation ids.  None when
        the folder has no tokenizer.json."""
        from .gguf_metadata import tokenizer_from_hf

        keys = tokenizer_from_hf(folder, dict(config), n_vocab)
        if not keys:
            return None
        return cls.from_gguf_metadata({key: value for key, value, _type in keys}, raw_decode=True)

    @property
    def n_vocab(self) -> int:
        return self._c.n_vocab

    def encode(self, text: str | bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        """Token ids of text.  add_bos: add BOS (and EOS) as the vocabulary asks
        (llama.cpp's add_special); special: turn control-token texts such as
        "<start_of_turn>" into their ids (parse_special)."""
        return self._c.encode(text, add_bos, special)

    def decode(self, ids, special: bool = False) -> str:
        """Text of ids (invalid UTF-8 replaced by U+FFFD); control tokens render only with special."""
        return self._c.decode(ids, special)

    def decode_bytes(self, ids, special: bool = False) -> bytes:
        """Raw bytes of ids, exactly as llama_detokenize produces them."""
        return self._c.decode_bytes(ids, special)

    def token_to_piece(self, token_id: int, special: bool = False) -> bytes:
        return self._c.token_to_piece(token_id, special)

    def piece_to_id(self, piece: str | bytes) -> int:
        """Id of the vocabulary entry whose text is exactly piece, or -1."""
        return self._c.piece_to_id(piece)

    def is_eog(self, token_id: int) -> bool:
        """True for tokens that end generation (EOS, EOT, <end_of_turn>, ...)."""
        return token_id in self.eog_ids

    def __repr__(self) -> str:
        return f"Tokenizer(model={self.model!r}, n_vocab={self.n_vocab}, bos={self.bos_id}, eos={self.eos_id})"
