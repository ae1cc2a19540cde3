"""A checkpoint: a GGUF file or a Hugging Face folder, as everything else reads it.

    ckpt = open_checkpoint("gemma-3-270m/")   # HF folder (F32/F16/BF16, shards) or a GGUF
    ckpt.hparams, ckpt.tokenizer(), ckpt.chat_template
    ckpt.weight_table()                        # zero-copy views for the C model (gemma_accel.load)
    for t in ckpt.tensors:                     # GGUF names, in writing order (the quantizer)
        for r0, r1 in t.chunks(16 << 20):      # rows per chunk: at most ~16 MiB of float32
            x = t.read_rows(r0, r1)            # float32 (r1 - r0, row_len), GGUF norm convention
            t.release(r0, r1)                  # drop those source pages from RSS (MADV_DONTNEED)

Everything a reader needs to refuse bad input (unknown architecture, a weight dtype
that is not a float, a missing tensor) is checked by open_checkpoint(), before any
output exists.  Hugging Face norms are converted to GGUF's convention (Gemma: 1 + w);
for GGUF writing, llama's q/k rows are permuted as llama.cpp's converter does, while
the C model reads Hugging Face matrices as stored (their RoPE pairs are NeoX's).
"""
from __future__ import annotations

import mmap
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from . import _core, block_formats, hparams as hparams_mod
from ._core import Error, ModelFormatError
from .tensor_names import is_norm, map_hf_names

HF_FLOAT_DTYPES = ("F32", "F16", "BF16")
HF_DTYPE_TO_GGML = {"F32": 0, "F16": 1, "BF16": 30}
_PAGE = mmap.PAGESIZE
_LAYER_RE = re.compile(r"blk\.(\d+)\.")
# Per-layer matrices every supported architecture must have.
_REQUIRED = ("attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate",
             "ffn_up", "ffn_down")


def layer_of(name: str) -> int | None:
    m = _LAYER_RE.match(name)
    return int(m.group(1)) if m else None


@dataclass
class SourceTensor:
    """One tensor of the source, by its GGUF name; shape is NumPy order (rows, row_len)."""
    name: str
    shape: tuple
    src_type: str            # "BF16", "F32", "Q4_K", ...
    nbytes: int              # bytes in the source file
    _read: Callable = field(repr=False)      # (r0, r1) -> float32 rows
    _raw: Callable = field(repr=False)       # () -> uint8 bytes as stored (GGUF-compatible types)
    _release: Callable = field(repr=False)   # (r0, r1) -> None
    whole: bool = False      # must be read in one piece (llama q/k permutation)

    @property
    def n_rows(self) -> int:
        return int(np.prod(self.shape[:-1], dtype=np.int64)) if len(self.shape) > 1 else 1

    @property
    def row_len(self) -> int:
        return int(self.shape[-1])

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def is_matrix(self) -> bool:
        return len(self.shape) >= 2 and not is_norm(self.name)

    def chunks(self, chunk_bytes: int):
        """(r0, r1) row ranges of at most chunk_bytes of float32 (at least one row)."""
        if self.whole:
            yield 0, self.n_rows
            return
        step = max(1, chunk_bytes // (4 * self.row_len))
        for r0 in range(0, self.n_rows, step):
            yield r0, min(self.n_rows, r0 + step)

    def read_rows(self, r0: int, r1: int) -> np.ndarray:
        return self._read(r0, r1)

    def read(self) -> np.ndarray:
        return self._read(0, self.n_rows).reshape(self.shape)

    def raw(self) -> np.ndarray:
        return self._raw()

    def release(self, r0: int, r1: int) -> None:
        self._release(r0, r1)


def _madvise_range(mm, start: int, length: int) -> None:
    """Drop the file pages of [start, start+length) from this process's RSS."""
    if not isinstance(mm, mmap.mmap) or length <= 0 or not hasattr(mmap, "MADV_DONTNEED"):
        return
    lo = start // _PAGE * _PAGE
    hi = min(len(mm), -(-(start + length) // _PAGE) * _PAGE)
    if hi > lo:
        mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)


def _matrix_entry(name, raw, type_id, shape):
    if len(shape) != 2:
        raise ModelFormatError(f"tensor {name} should be 2-D, has shape {tuple(shape)}")
    return raw, int(type_id), int(shape[0]), int(shape[1])


class Checkpoint:
    """An open checkpoint: .kind ("hf" or "gguf"), .path, .arch, .hparams, .tensors (list of
    SourceTensor), .input_bytes, .chat_template, and for GGUF .metadata/.metadata_types."""

    kind = "?"
    arch: str
    hparams: dict
    tensors: list
    chat_template: str | None = None

    def close(self) -> None:
        raise NotImplementedError

    def weight_table(self) -> dict:
        """What _core.Model takes: {short GGUF name: (zero-copy bytes, ggml type id, rows, cols)}
        for matrices, float32 arrays (multiply-by-w convention) for norms."""
        raise NotImplementedError

    def tokenizer(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def tensor(self, name: str) -> SourceTensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def __contains__(self, name) -> bool:
        return any(t.name == name for t in self.tensors)

    def _check_complete(self, where: str) -> None:
        names = {t.name for t in self.tensors}
        if "token_embd.weight" not in names:
            raise ModelFormatError(f"{where}: no token embedding (token_embd.weight / embed_tokens.weight)")
        missing = [f"blk.{i}.{k}.weight" for i in range(self.hparams["n_layer"]) for k in _REQUIRED
                   if f"blk.{i}.{k}.weight" not in names]
        if missing:
            raise ModelFormatError(f"{where}: {len(missing)} tensors missing, e.g. {missing[:3]}")


def _natural_key(name: str):
    layer = layer_of(name)
    if name == "token_embd.weight":
        return (-1, name)
    if layer is None:
        return (1 << 30, name)
    return (layer, name)


class HFFolderCheckpoint(Checkpoint):
    kind = "hf"

    def __init__(self, folder):
        from .safetensors_file import HFCheckpoint
        self.path = Path(folder)
        self.ckpt = HFCheckpoint(folder)  # checks config, index and shards
        try:
            self.config = self.ckpt.config
            self.hparams = hparams_mod.from_hf_config(self.ckpt.raw_config)
            self.arch = self.hparams["arch_name"]
            self.tensors = self._plan()
            self._check_complete(str(self.path))
            self.input_bytes = sum(os.path.getsize(p) for p in self.ckpt.files)
            self.chat_template = self._chat_template()
        except BaseException:
            self.ckpt.close()
            raise

    def _plan(self) -> list:
        tied = bool(self.config.get("tie_word_embeddings", self.arch.startswith("gemma")))
        out = []
        for hf_name, name in map_hf_names(self.ckpt.tensors, self.arch, str(self.path)).items():
            info = self.ckpt.tensors[hf_name]
            if name == "output.weight" and tied:  # the head is the embedding: written once
                continue
            if info.dtype not in HF_FLOAT_DTYPES:
                raise Error(f"{self.path}: tensor {hf_name} has dtype {info.dtype}; the quantizer "
                            f"reads {', '.join(HF_FLOAT_DTYPES)} checkpoints")
            shape = tuple(info.shape)
            if not shape or len(shape) > 2 or any(d <= 0 for d in shape):
                raise ModelFormatError(f"{self.path}: tensor {hf_name} has unsupported shape {shape}")
            out.append(self._tensor(name, hf_name, info, shape))
        out.sort(key=lambda t: _natural_key(t.name))
        return out

    def _tensor(self, name, hf_name, info, shape) -> SourceTensor:
        ckpt, hp = self.ckpt, self.hparams
        itemsize = 4 if info.dtype == "F32" else 2
        row_len = shape[-1]
        norm_add = np.float32(1.0) if is_norm(name) and self.arch.startswith("gemma") else None
        permute_heads = None
        if self.arch == "llama" and name.endswith(("attn_q.weight", "attn_k.weight")):
            permute_heads = hp["n_head"] if "attn_q" in name else hp["n_head_kv"]

        def read(r0, r1):
            raw = ckpt.raw(hf_name)[r0 * row_len * itemsize: r1 * row_len * itemsize]
            if info.dtype == "F32":
                x = np.frombuffer(raw, np.float32).astype(np.float32, copy=True)
            else:
                x = np.empty(raw.nbytes // 2, np.float32)
                (_core.bf16_to_f32 if info.dtype == "BF16" else _core.f16_to_f32)(raw, x)
            x = x.reshape(r1 - r0, row_len) if len(shape) > 1 else x.reshape(1, row_len)
            if norm_add is not None:
                x += norm_add
            if permute_heads:  # llama.cpp's convert_hf_to_gguf: adjacent-pair RoPE layout
                x = (x.reshape(permute_heads, 2, x.shape[0] // permute_heads // 2, row_len)
                     .swapaxes(1, 2).reshape(x.shape))
            return x

        def raw():
            if permute_heads or norm_add is not None:
                return None  # the stored bytes are not what GGUF wants
            return ckpt.raw(hf_name)

        def release(r0, r1):
            f = ckpt._file_of(hf_name)
            _madvise_range(f._mm, info.offset + r0 * row_len * itemsize, (r1 - r0) * row_len * itemsize)

        return SourceTensor(name, shape, info.dtype, info.nbytes, read, raw, release,
                            whole=bool(permute_heads))

    def _chat_template(self):
        p = self.path / "chat_template.jinja"
        if p.is_file():
            return p.read_text()
        p = self.path / "tokenizer_config.json"
        if p.is_file():
            import json
            cfg = json.loads(p.read_text())
            return cfg.get("chat_template") if isinstance(cfg, dict) else None
        return None

    def weight_table(self) -> dict:
        table = {}
        for hf_name, name in map_hf_names(self.ckpt.tensors, self.arch, self.ckpt.folder).items():
            info = self.ckpt.tensors[hf_name]
            key = name[: -len(".weight")]
            if is_norm(name):
                w = np.ascontiguousarray(self.ckpt.dequantize(hf_name), dtype=np.float32).reshape(-1)
                table[key] = w + np.float32(1.0) if self.arch.startswith("gemma") else w
            else:
                if info.dtype not in HF_DTYPE_TO_GGML:
                    raise ModelFormatError(f"{hf_name}: dtype {info.dtype} is not supported for weights")
                table[key] = _matrix_entry(hf_name, self.ckpt.raw(hf_name), HF_DTYPE_TO_GGML[info.dtype],
                                           info.shape)
        return table

    def tokenizer(self):
        from .tokenizer import Tokenizer
        return Tokenizer.from_hf_folder(self.path, self.config, self.hparams["n_vocab"])

    def tokenizer_files(self) -> dict:
        return self.ckpt.tokenizer_files

    def close(self) -> None:
        self.ckpt.close()


class GGUFCheckpoint(Checkpoint):
    kind = "gguf"

    def __init__(self, path):
        from .gguf_file import GGUFFile
        self.path = Path(path)
        self.file = GGUFFile(path)
        try:
            self.metadata = self.file.metadata
            self.metadata_types = self.file.metadata_types
            emb = self.file.tensors.get("token_embd.weight")
            if emb is None:
                raise ModelFormatError(f"{self.path}: no token_embd.weight tensor")
            self.hparams = hparams_mod.from_gguf(self.metadata, emb.shape[0])
            self.arch = self.hparams["arch_name"]
            self.tensors = [self._tensor(info) for info in self.file.tensors.values()]
            self._check_complete(str(self.path))
            self.input_bytes = self.file.size
            self.chat_template = self.metadata.get("tokenizer.chat_template")
        except BaseException:
            self.file.close()
            raise

    def _tensor(self, info) -> SourceTensor:
        f = self.file
        if info.type not in block_formats.DEQUANTIZABLE:
            raise Error(f"{self.path}: tensor {info.name} has type {info.type}, which cannot be decoded")
        shape = tuple(info.shape)
        row_len = shape[-1]
        row_bytes = block_formats.row_nbytes(info.type, row_len)

        def read(r0, r1):
            raw = f.raw(info.name)[r0 * row_bytes: r1 * row_bytes]
            return block_formats.dequantize(raw, info.type, (r1 - r0, row_len))

        def release(r0, r1):
            _madvise_range(f._mm, info.offset + r0 * row_bytes, (r1 - r0) * row_bytes)

        return SourceTensor(info.name, shape, info.type, info.nbytes, read, lambda: f.raw(info.name),
                            release)

    def weight_table(self) -> dict:
        f, table = self.file, {}
        for name, info in f.tensors.items():
            if not name.endswith(".weight"):
                continue
            key = name[: -len(".weight")]
            if is_norm(name):
                if info.type == "F32":
                    table[key] = np.frombuffer(f.raw(name), dtype=np.float32)
                else:
                    table[key] = np.ascontiguousarray(f.dequantize(name), dtype=np.float32).reshape(-1)
            else:
                table[key] = _matrix_entry(name, f.raw(name), info.type_id, info.shape)
        return table

    def tokenizer(self):
        from .tokenizer import Tokenizer
        return Tokenizer.from_gguf_metadata(self.metadata)

    def close(self) -> None:
        self.file.close()


def open_checkpoint(src) -> Checkpoint:
    """A Hugging Face folder or a GGUF file, validated; raises before anything is written."""
    path = Path(os.fspath(src))
    if not path.exists():
        raise FileNotFoundError(f"no such checkpoint: {path}")
    if path.is_dir():
        return HFFolderCheckpoint(path)
    return GGUFCheckpoint(path)
