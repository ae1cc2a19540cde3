"""Tokenizer for Hugging Face folders, through the `tokenizers` library (optional).

Exposes the same interface as gemma_accel.tokenizer.Tokenizer: encode, decode,
token_to_piece (raw bytes of one token, for streaming), bos_id, eos_id, eog_ids.
"""
import json
import os

from ._core import Error

EOG_TEXTS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<|endoftext|>", "</s>")


def _byte_decoder():
    """GPT-2's printable-character alphabet for bytes, inverted."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


class HFTokenizer:
    def __init__(self, tk, config: dict):
        self._tk = tk
        self.n_vocab = tk.get_vocab_size(with_added_tokens=True)
        vocab = tk.get_vocab(with_added_tokens=True)
        self._byte_level = "<0x0A>" not in vocab
        self._bytes = _byte_decoder() if self._byte_level else None
        self._special = {t.content for t in tk.get_added_tokens_decoder().values() if t.special} \
            if hasattr(tk, "get_added_tokens_decoder") else set()

        def token_id(key):
            value = config.get(key)
            if isinstance(value, dict):
                value = value.get("content")
            return vocab.get(value) if isinstance(value, str) else None

        self.bos_id = token_id("bos_token")
        self.eos_id = token_id("eos_token")
        self.add_bos = bool(config.get("add_bos_token", self.bos_id is not None))
        self.eog_ids = sorted({i for i in (self.eos_id,) if i is not None} |
                              {vocab[t] for t in EOG_TEXTS if t in vocab})

    @classmethod
    def from_checkpoint(cls, ckpt):
        files = ckpt.tokenizer_files
        if "tokenizer.json" not in files:
            return None
        try:
            from tokenizers import Tokenizer as TK
        except ImportError as exc:
            raise Error("Hugging Face folders need the tokenizers package: pip install tokenizers") from exc
        config = {}
        if "tokenizer_config.json" in files:
            with open(files["tokenizer_config.json"], encoding="utf-8") as f:
                config = json.load(f)
        return cls(TK.from_file(os.fspath(files["tokenizer.json"])), config)

    def encode(self, text, add_bos=True, special=False):
        if isinstance(text, bytes):
            text = text.decode("utf-8", errors="replace")
        ids = self._tk.encode(text, add_special_tokens=False).ids
        if add_bos and self.add_bos and self.bos_id is not None:
            ids = [self.bos_id] + ids
        return ids

    def decode(self, ids, special=False):
        return b"".join(self.token_to_piece(i, special) for i in ids).decode("utf-8", errors="replace")

    def token_to_piece(self, token_id, special=False) -> bytes:
        text = self._tk.id_to_token(int(token_id))
        if text is None:
            raise ValueError(f"token id {token_id} is outside the vocabulary")
        if text in self._special:
            return text.encode() if special else b""
        if self._byte_level:
            return bytes(self._bytes.get(c, 0x3F) for c in text)
        if len(text) == 6 and text.startswith("<0x") and text.endswith(">"):
            return bytes([int(text[3:5], 16)])
        return text.replace("\u2581", " ").encode()

    def token_text(self, token_id) -> str:
        return self._tk.id_to_token(int(token_id)) or ""
