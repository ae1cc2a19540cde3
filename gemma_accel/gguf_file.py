"""GGUFFile: a memory-mapped GGUF model file, validated by the C parser.

    with GGUFFile(path) as f:
        f.metadata["general.architecture"]        # 'gemma3'
        q = f.raw("blk.0.attn_q.weight")          # zero-copy uint8 view into the file
        w = f.dequantize("output_norm.weight")    # float32 array, NumPy-order shape

Metadata values are int, float (FLOAT32 widened to a Python float), bool and
str.  Arrays of numbers or bools are 1-D NumPy arrays of the matching dtype
(copied out of the file, so they outlive close()); arrays of strings and
arrays of arrays are lists.  A string that is not valid UTF-8 is decoded with
"surrogateescape", so GGUFWriter writes its bytes back unchanged.
``metadata_types`` names each key's GGUF type ("UINT32", "ARRAY[STRING]"),
which GGUFWriter.add_metadata accepts for a lossless copy.
"""
import mmap
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _core

_TYPE_TABLE = _core.type_table()  # {type_id: (name, block_size, bytes_per_block)}


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives in the file and what it holds."""
    name: str
    shape: tuple   # NumPy order: the reverse of ggml's ne
    type: str      # ggml type name, e.g. "Q4_K"
    type_id: int
    nbytes: int
    offset: int    # absolute file offset of the first byte

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def _advise_huge_pages(mm) -> None:
    """Ask for huge pages on the mapping: pages the kernel has yet to read then come in as
    large folios, and streaming the weights each token takes fewer TLB misses (the 178 MB
    head of the default model: ~10 ms per matvec instead of ~12 on one thread).  A hint
    only: kernels or filesystems without support refuse it harmlessly."""
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            mm.madvise(mmap.MADV_HUGEPAGE)
        except OSError:
            pass


class GGUFFile:
    """A validated, memory-mapped GGUF file (versions 2 and 3, little-endian).

    Raises ModelFormatError naming the file and the problem when the file is
    malformed, truncated or hostile; FileNotFoundError / IsADirectoryError as
    open() does.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._mm = None
        with open(self.path, "rb") as f:
            self.size = os.fstat(f.fileno()).st_size
            if self.size == 0:  # mmap refuses empty files; let the parser word the error
                _core.gguf_parse(b"", str(self.path))
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        _advise_huge_pages(self._mm)
        try:
            parsed = _core.gguf_parse(self._mm, str(self.path))
        except BaseException:
            self.close()
            raise
        self.version = parsed["version"]
        self.alignment = parsed["alignment"]
        self.data_offset = parsed["data_offset"]
        self.metadata = parsed["metadata"]
        self.metadata_types = parsed["metadata_types"]
        self.tensors = {
            name: TensorInfo(name, shape, _TYPE_TABLE[type_id][0], type_id, nbytes, offset)
            for name, shape, type_id, offset, nbytes in parsed["tensors"]
        }

    # ------------------------------------------------------------ tensor data

    def raw(self, name: str) -> np.ndarray:
        """The tensor's bytes as a read-only uint8 view of the mapping (no copy)."""
        t = self._tensor(name)
        if self._mm is None:
            raise ValueError(f"{self.path.name}: the GGUFFile is closed")
        return np.frombuffer(self._mm, np.uint8, t.nbytes, t.offset)

    def dequantize(self, name: str) -> np.ndarray:
        """The tensor as float32 in its NumPy-order shape (via gemma_accel.block_formats)."""
        from . import block_formats
        t = self._tensor(name)
        return block_formats.dequantize(self.raw(name), t.type, t.shape)

    def _tensor(self, name: str) -> TensorInfo:
        try:
            return self.tensors[name]
        except KeyError:
            raise KeyError(f"{self.path.name} has no tensor {name!r}") from None

    # ------------------------------------------------------------ description

    @property
    def architecture(self):
        return self.metadata.get("general.architecture")

    def n_params(self) -> int:
        return sum(t.n_elements for t in self.tensors.values())

    def summary(self) -> str:
        """A few lines for humans: model, size, tensor types, key hyper-parameters."""
        md, arch = self.metadata, self.architecture or "?"
        lines = [f"{self.path.name}: GGUF v{self.version}, {self.size / 1e6:.1f} MB, "
                 f"{len(self.tensors)} tensors, {len(md)} metadata keys",
                 f"  model: {md.get('general.name', '?')} (architecture {arch}), "
                 f"{self.n_params() / 1e6:.1f} M parameters"]
        types = Counter(t.type for t in self.tensors.values())
        lines.append("  tensor types: " + ", ".join(f"{n} {k}" for k, n in types.most_common()))
        vocab = md.get("tokenizer.ggml.tokens")
        hparams = [
            ("context length", md.get(f"{arch}.context_length")),
            ("layers", md.get(f"{arch}.block_count")),
            ("embedding", md.get(f"{arch}.embedding_length")),
            ("feed-forward", md.get(f"{arch}.feed_forward_length")),
            ("heads", md.get(f"{arch}.attention.head_count")),
            ("kv heads", md.get(f"{arch}.attention.head_count_kv")),
            ("head dim", md.get(f"{arch}.attention.key_length")),
            ("vocab", len(vocab) if vocab is not None else md.get(f"{arch}.vocab_size")),
        ]
        shown = [f"{k} {v}" for k, v in hparams if v is not None]
        if shown:
            lines.append("  " + ", ".join(shown))
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = " (closed)" if self._mm is None else ""
        return (f"<GGUFFile {self.path.name!r} {self.architecture or '?'} v{self.version}, "
                f"{len(self.tensors)} tensors, {len(self.metadata)} keys{state}>")

    def __contains__(self, name) -> bool:
        return name in self.tensors

    def __len__(self) -> int:
        return len(self.tensors)

    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Release the mapping.  Views from raw() that are still alive keep it
        mapped (mmap.close raises BufferError then); it is unmapped when the
        last of them is gone, so closing never invalidates a live array."""
        mm, self._mm = self._mm, None
        if mm is not None:
            try:
                mm.close()
            except BufferError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
