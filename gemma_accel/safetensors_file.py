"""Read safetensors files and Hugging Face checkpoint folders, zero-copy.

    >>> with SafetensorsFile("model.safetensors") as f:
    ...     w = f.dequantize("model.norm.weight")      # float32 ndarray
    >>> with HFCheckpoint("gemma-3-270m/") as ckpt:
    ...     ckpt.architecture, ckpt.config["hidden_size"]

Python memory-maps the file; the C core (_core.safetensors_parse) validates
the whole header before any tensor byte is read.  raw() and array() are
read-only NumPy views of the mapping: they keep it alive after close().
"""
from __future__ import annotations

import json
import mmap
import os
from typing import NamedTuple

import numpy as np

from . import _core
from ._core import Error, ModelFormatError

# safetensors dtype -> NumPy view dtype.  BF16 has no NumPy type: it is viewed
# as its uint16 bit patterns; FP8 as raw uint8.
_NUMPY_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?", "F8_E4M3": "u1", "F8_E5M2": "u1", "F8_E8M0": "u1", "C64": "<c8",
}


class TensorInfo(NamedTuple):
    """Where one tensor lives: offset is absolute in its file, nbytes its size."""
    name: str
    dtype: str
    shape: tuple
    offset: int
    nbytes: int
    file: str | None = None


class SafetensorsFile:
    """One .safetensors file, memory-mapped and validated on open."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self._mm = None
        with open(self.path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            # mmap refuses empty files; the parser reports them as too small.
            self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        try:
            header = _core.safetensors_parse(self._mm, os.path.basename(self.path))
        except BaseException:
            self.close()
            raise
        self.metadata: dict[str, str] = header["metadata"]
        self.data_offset: int = header["data_offset"]
        self.tensors: dict[str, TensorInfo] = {
            name: TensorInfo(name, dtype, shape, offset, nbytes, self.path)
            for name, dtype, shape, offset, nbytes in header["tensors"]
        }

    # -- access ---------------------------------------------------------------

    def _info(self, name: str) -> TensorInfo:
        if self._mm is None:
            raise Error(f"{self.path}: file is closed")
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"{os.path.basename(self.path)}: no tensor named {name!r}") from None

    def raw(self, name: str) -> np.ndarray:
        """The tensor's bytes as a read-only 1-D uint8 view of the mapping."""
        info = self._info(name)
        return np.frombuffer(self._mm, dtype=np.uint8, count=info.nbytes, offset=info.offset)

    def array(self, name: str) -> np.ndarray:
        """Read-only typed view with the tensor's shape (BF16 as uint16 bits,
        FP8 as uint8).  May be unaligned: safetensors offsets need not be."""
        info = self._info(name)
        dtype = np.dtype(_NUMPY_DTYPES[info.dtype])
        count = info.nbytes // dtype.itemsize
        view = np.frombuffer(self._mm, dtype=dtype, count=count, offset=info.offset)
        return view.reshape(info.shape)

    def dequantize(self, name: str) -> np.ndarray:
        """float32 array of the tensor's shape.  F32 is returned as the
        read-only view itself (no copy); F16 and BF16 are widened in C."""
        info = self._info(name)
        if info.dtype == "F32":
            return self.array(name)
        if info.dtype not in ("F16", "BF16"):
            raise Error(f"{os.path.basename(self.path)}: tensor {name!r} has dtype {info.dtype}; "
                        "dequantize supports F32, F16 and BF16")
        out = np.empty(info.shape, dtype=np.float32)
        widen = _core.bf16_to_f32 if info.dtype == "BF16" else _core.f16_to_f32
        widen(self.raw(name), out)
        return out

    # -- container protocol ------------------------------------------------------

    def keys(self):
        return self.tensors.keys()

    def __contains__(self, name) -> bool:
        return name in self.tensors

    def __len__(self) -> int:
        return len(self.tensors)

    def __iter__(self):
        return iter(self.tensors)

    def __repr__(self) -> str:
        return f"SafetensorsFile({self.path!r}, {len(self.tensors)} tensors)"

    # -- lifetime -----------------------------------------------------------------

    def close(self) -> None:
        """Release the mapping.  Views handed out earlier keep it alive until
        they are gone (mmap cannot close while they exist)."""
        mm, self._mm = self._mm, None
        if isinstance(mm, mmap.mmap):
            try:
                mm.close()
            except BufferError:
                pass  # exported views still hold it; it closes when they die

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HFCheckpoint:
    """A Hugging Face checkpoint folder: config.json plus model.safetensors or
    shards listed in model.safetensors.index.json."""

    INDEX_NAME = "model.safetensors.index.json"
    SINGLE_NAME = "model.safetensors"
    TOKENIZER_NAMES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json")

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        self._files: dict[str, SafetensorsFile] = {}
        if not os.path.isdir(self.folder):
            raise Error(f"{self.folder}: not a checkpoint folder (not a directory)")
        self.raw_config = self._read_json("config.json")
        if not isinstance(self.raw_config, dict):
            raise ModelFormatError(f"{self._path('config.json')}: config is not a JSON object")
        self.config = self._text_config(self.raw_config)
        try:
            self.tensors: dict[str, TensorInfo] = self._load_weights()
        except BaseException:
            self.close()
            raise

    # -- reading the folder ---------------------------------------------------------

    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def _read_json(self, name: str):
        path = self._path(name)
        if not os.path.isfile(path):
            raise ModelFormatError(f"{self.folder}: missing {name}")
        try:
            with open(path, "rb") as fh:
                return json.loads(fh.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelFormatError(f"{path}: invalid JSON: {e}") from None

    @staticmethod
    def _text_config(config: dict) -> dict:
        """Multimodal configs (Gemma3ForConditionalGeneration) nest the decoder's
        settings in "text_config": merge them over the top level."""
        text = config.get("text_config")
        if isinstance(text, dict):
            merged = {k: v for k, v in config.items() if k != "text_config"}
            merged.update(text)
            return merged
        return dict(config)

    def _shard_path(self, shard) -> str:
        """Path of a shard named in the index; refuses names leaving the folder."""
        if not isinstance(shard, str) or not shard or os.path.isabs(shard):
            raise ModelFormatError(f"{self.INDEX_NAME}: invalid shard name {shard!r}")
        root = os.path.realpath(self.folder)
        path = os.path.realpath(os.path.join(root, shard))
        if os.path.commonpath([root, path]) != root:
            raise ModelFormatError(f"{self.INDEX_NAME}: shard {shard!r} is outside the checkpoint folder")
        if not os.path.isfile(path):
            raise ModelFormatError(f"{self.folder}: missing shard {shard} listed in {self.INDEX_NAME}")
        return path

    def _open(self, shard: str) -> SafetensorsFile:
        if shard not in self._files:
            self._files[shard] = SafetensorsFile(self._shard_path(shard))
        return self._files[shard]

    def _load_weights(self) -> dict[str, TensorInfo]:
        if os.path.isfile(self._path(self.INDEX_NAME)):
            index = self._read_json(self.INDEX_NAME)
            weight_map = index.get("weight_map") if isinstance(index, dict) else None
            if not isinstance(weight_map, dict):
                raise ModelFormatError(f"{self._path(self.INDEX_NAME)}: no \"weight_map\" object")
            # The index is authoritative: every name it lists must be in its shard.
            tensors = {}
            for name, shard in weight_map.items():
                f = self._open(shard)
                if name not in f.tensors:
                    raise ModelFormatError(f"{self.folder}: tensor {name!r} listed in {self.INDEX_NAME} "
                                           f"is absent from shard {shard}")
                tensors[name] = f.tensors[name]
            return tensors
        if os.path.isfile(self._path(self.SINGLE_NAME)):
            return dict(self._open(self.SINGLE_NAME).tensors)
        raise ModelFormatError(f"{self.folder}: no weights found (expected {self.SINGLE_NAME} "
                               f"or {self.INDEX_NAME})")

    # -- API ---------------------------------------------------------------------

    @property
    def architecture(self) -> str | None:
        archs = self.raw_config.get("architectures")
        return archs[0] if isinstance(archs, list) and archs else None

    @property
    def files(self) -> list[str]:
        """Paths of the safetensors files holding the weights."""
        return [f.path for f in self._files.values()]

    @property
    def tokenizer_files(self) -> dict[str, str]:
        """{"tokenizer.json": path, ...} for the tokenizer files present."""
        return {n: self._path(n) for n in self.TOKENIZER_NAMES if os.path.isfile(self._path(n))}

    def _file_of(self, name: str) -> SafetensorsFile:
        try:
            info = self.tensors[name]
        except KeyError:
            raise KeyError(f"{self.folder}: no tensor named {name!r}") from None
        for f in self._files.values():
            if f.path == info.file:
                return f
        raise Error(f"{self.folder}: checkpoint is closed")

    def raw(self, name: str) -> np.ndarray:
        return self._file_of(name).raw(name)

    def array(self, name: str) -> np.ndarray:
        return self._file_of(name).array(name)

    def dequantize(self, name: str) -> np.ndarray:
        return self._file_of(name).dequantize(name)

    def keys(self):
        return self.tensors.keys()

    def __contains__(self, name) -> bool:
        return name in self.tensors

    def __len__(self) -> int:
        return len(self.tensors)

    def __repr__(self) -> str:
        return f"HFCheckpoint({self.folder!r}, {self.architecture}, {len(self.tensors)} tensors)"

    def close(self) -> None:
        files, self._files = self._files, {}
        for f in files.values():
            f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
