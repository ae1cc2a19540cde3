"""GGUFWriter: streams a GGUF v3 file - header first, then tensors one by one.

    with GGUFWriter("out.gguf") as w:
        w.add_metadata("general.architecture", "gemma3")
        w.add_metadata("gemma3.block_count", 18)                  # -> UINT32
        w.add_metadata("tokenizer.ggml.scores", scores)           # float32 array -> ARRAY[FLOAT32]
        w.add_tensor_info("output_norm.weight", (640,), "F32")
        w.write_header()
        w.write_tensor_data("output_norm.weight", np.ones(640, np.float32))

Only one tensor's bytes are ever in hand: data is written from the caller's
buffer through a memoryview, without a copy.

Type inference, when add_metadata gets no type=:
  bool -> BOOL;  float -> FLOAT32;  str (or bytes) -> STRING;
  int -> UINT32 when 0 <= v < 2**32 (what llama.cpp writes for hyper-parameters),
         else UINT64; negative ints -> INT32 when >= -2**31, else INT64;
  NumPy scalars and 1-D arrays -> their own dtype (ARRAY[<dtype>] for arrays);
  list/tuple -> ARRAY of one element type chosen for all items by the rules
         above (ints by their joint range, ints mixed with floats -> FLOAT32,
         lists of lists -> ARRAY[ARRAY], each inner array inferred on its own).
An explicit type is a name as GGUFFile.metadata_types gives it: "UINT32",
"FLOAT32", "STRING", "ARRAY[STRING]", "ARRAY[ARRAY[INT32]]", "ARRAY[ARRAY]"
(inner element types inferred), so any parsed file can be copied losslessly.
"""
import struct

import numpy as np

from . import _core

_TYPE_TABLE = _core.type_table()  # {type_id: (name, block_size, bytes_per_block)}
_TYPE_IDS = {name: tid for tid, (name, _, _) in _TYPE_TABLE.items()}
_VTYPE_IDS = {name: i for i, name in enumerate(_core.gguf_value_types())}
_SCALAR_DTYPES = {
    "UINT8": "<u1", "INT8": "<i1", "UINT16": "<u2", "INT16": "<i2", "UINT32": "<u4",
    "INT32": "<i4", "FLOAT32": "<f4", "BOOL": "?", "UINT64": "<u8", "INT64": "<i8", "FLOAT64": "<f8",
}
_STRUCT_FORMATS = {
    "UINT8": "B", "INT8": "b", "UINT16": "H", "INT16": "h", "UINT32": "I", "INT32": "i",
    "FLOAT32": "f", "BOOL": "?", "UINT64": "Q", "INT64": "q", "FLOAT64": "d",
}
_DTYPE_VTYPES = {np.dtype(d): name for name, d in _SCALAR_DTYPES.items()}
_MAX_NAME = 64  # tensor names are at most 63 bytes (ggml's GGML_MAX_NAME)
DEFAULT_ALIGNMENT = 32


# ---------------------------------------------------------------- value types
# A type spec is a scalar name ("UINT32", "STRING") or ("ARRAY", inner) where
# inner is a spec, or None to infer each array's element type from its items.

def _parse_type(name: str):
    name = name.strip().upper()
    if name == "ARRAY":
        return ("ARRAY", None)
    if name.startswith("ARRAY[") and name.endswith("]"):
        return ("ARRAY", _parse_type(name[6:-1]))
    if name in _SCALAR_DTYPES or name == "STRING":
        return name
    raise ValueError(f"unknown GGUF value type {name!r}; use one of {sorted(_VTYPE_IDS)} or ARRAY[...]")


def _int_type(lo: int, hi: int) -> str:
    if lo >= 0:
        if hi < 2**32:
            return "UINT32"
        if hi < 2**64:
            return "UINT64"
    elif lo >= -2**31 and hi < 2**31:
        return "INT32"
    elif lo >= -2**63 and hi < 2**63:
        return "INT64"
    raise ValueError(f"integers in [{lo}, {hi}] do not fit one GGUF integer type")


def _infer(value):
    if isinstance(value, (bool, np.bool_)):
        return "BOOL"
    if isinstance(value, (np.generic, np.ndarray)):
        scalar = _DTYPE_VTYPES.get(value.dtype.newbyteorder("<"))  # any byte order
        if scalar is not None:
            return ("ARRAY", scalar) if isinstance(value, np.ndarray) else scalar
    if isinstance(value, int):
        return _int_type(value, value)
    if isinstance(value, float):
        return "FLOAT32"
    if isinstance(value, (str, bytes)):
        return "STRING"
    if isinstance(value, (list, tuple, np.ndarray)):
        return ("ARRAY", _infer_items(list(value)))
    raise TypeError(f"cannot store a {type(value).__name__} in GGUF metadata")


def _infer_items(items: list):
    if not items:
        raise ValueError("cannot infer the element type of an empty array; pass type='ARRAY[...]'")
    if all(isinstance(v, (bool, np.bool_)) for v in items):
        return "BOOL"
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in items):
        return _int_type(int(min(items)), int(max(items)))
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
           for v in items):
        return "FLOAT32"
    if all(isinstance(v, (str, bytes)) for v in items):
        return "STRING"
    if all(isinstance(v, (list, tuple, np.ndarray)) for v in items):
        return ("ARRAY", None)
    raise TypeError(f"array items of mixed kinds cannot share one GGUF type: {items[:8]!r}")


def _encode_string(value) -> bytes:
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)
    return struct.pack("<Q", len(data)) + data


def _encode_numbers(values, vtype: str) -> bytes:
    """A numeric array body (no header), checking that no value changes."""
    target = np.dtype(_SCALAR_DTYPES[vtype])
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"ARRAY[{vtype}] needs a 1-D sequence, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "biuf":
        raise TypeError(f"ARRAY[{vtype}] needs numbers, got {arr.dtype}")
    out = arr.astype(target)
    # Floats may round into FLOAT32/64; integers and bools must come through exactly.
    if target.kind != "f" and arr.size and not np.array_equal(out, arr):
        raise ValueError(f"values do not fit ARRAY[{vtype}] exactly")
    return out.tobytes()


def _encode(value, spec, chunks: list) -> None:
    """Appends the encoded value (without its type tag) to chunks."""
    if spec == "STRING":
        if not isinstance(value, (str, bytes, bytearray)):
            raise TypeError(f"STRING needs str or bytes, got {value!r}")
        chunks.append(_encode_string(value))
    elif isinstance(spec, str):
        try:
            chunks.append(struct.pack("<" + _STRUCT_FORMATS[spec], value))
        except struct.error as exc:
            raise ValueError(f"{value!r} cannot be stored as {spec}: {exc}") from None
    else:
        inner = spec[1] if spec[1] is not None else _infer_items(list(value))
        name = inner if isinstance(inner, str) else "ARRAY"
        chunks.append(struct.pack("<IQ", _VTYPE_IDS[name], len(value)))
        if isinstance(inner, str) and inner != "STRING":
            chunks.append(_encode_numbers(value, inner))
        else:
            for item in value:
                _encode(item, inner, chunks)


def _type_name(spec) -> str:
    if isinstance(spec, str):
        return spec
    return "ARRAY" if spec[1] is None else f"ARRAY[{_type_name(spec[1])}]"


# ---------------------------------------------------------------- the writer

class GGUFWriter:
    """Writes a GGUF v3 file in one pass: add_metadata / add_tensor_info,
    write_header(), then write_tensor_data() for each tensor in declared
    order, then close().  path_or_fileobj is a path, or a binary file object
    positioned where the file should start (left open by close())."""

    def __init__(self, path_or_fileobj, *, alignment: int = DEFAULT_ALIGNMENT):
        self._check_alignment(alignment)
        self.alignment = alignment
        self._metadata = {}   # key -> (type spec, encoded value)
        self._tensors = []    # [name, shape, type_id, nbytes, offset]
        self._next = 0        # index of the next tensor to write
        self._header_done = False
        self._closed = False
        self._pos = 0
        if hasattr(path_or_fileobj, "write"):
            self._file, self._owns_file = path_or_fileobj, False
        else:
            self._file, self._owns_file = open(path_or_fileobj, "wb"), True

    @staticmethod
    def _check_alignment(alignment):
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1) \
                or alignment >= 2**32:
            raise ValueError(f"alignment must be a power of 2 below 2**32, got {alignment!r}")

    def _check_open(self, before_header=True):
        if self._closed:
            raise ValueError("the GGUFWriter is closed")
        if before_header and self._header_done:
            raise ValueError("the header is already written: declare everything before write_header()")

    # ------------------------------------------------------------ declarations

    def add_metadata(self, key: str, value, type: str = None) -> None:
        """Adds one key; type is a GGUF type name (see the module doc) or None to infer."""
        self._check_open()
        if not isinstance(key, str):
            raise TypeError(f"metadata keys are str, got {key!r}")
        if key in self._metadata:
            raise ValueError(f"duplicate metadata key {key!r}")
        spec = _parse_type(type) if type is not None else _infer(value)
        if key == "general.alignment":
            if spec != "UINT32":
                raise ValueError(f"general.alignment must be UINT32, not {_type_name(spec)}")
            self._check_alignment(int(value))
            if self.alignment not in (DEFAULT_ALIGNMENT, int(value)):
                raise ValueError(f"general.alignment {value} contradicts alignment={self.alignment}")
            self.alignment = int(value)
        chunks = []
        _encode(value, spec, chunks)
        self._metadata[key] = (spec, b"".join(chunks))

    def add_tensor_info(self, name: str, shape, type, nbytes: int = None) -> None:
        """Declares a tensor of the given NumPy-order shape and ggml type
        (name like "Q4_K" or type id); its bytes come later via write_tensor_data."""
        self._check_open()
        type_id = _TYPE_IDS.get(type.upper()) if isinstance(type, str) else type
        if type_id not in _TYPE_TABLE:
            raise ValueError(f"unknown ggml type {type!r}")
        type_name, block_size, block_bytes = _TYPE_TABLE[type_id]
        encoded = name.encode("utf-8")
        if len(encoded) >= _MAX_NAME:
            raise ValueError(f"tensor name {name!r} is {len(encoded)} bytes; at most {_MAX_NAME - 1} allowed")
        if any(t[0] == name for t in self._tensors):
            raise ValueError(f"duplicate tensor name {name!r}")
        shape = tuple(int(d) for d in shape)
        if len(shape) > 4 or any(d <= 0 for d in shape):
            raise ValueError(f"tensor {name!r}: shape {shape} must have at most 4 dimensions, all > 0")
        row = shape[-1] if shape else 1
        if row % block_size:
            raise ValueError(f"tensor {name!r}: last dimension {row} is not a multiple of "
                             f"{type_name}'s block size {block_size}")
        expected = int(np.prod(shape, dtype=object)) // block_size * block_bytes
        if nbytes is not None and nbytes != expected:
            raise ValueError(f"tensor {name!r}: {nbytes} bytes given, {type_name} {shape} takes {expected}")
        self._tensors.append([name, shape, type_id, expected, None])

    # ------------------------------------------------------------ writing

    def _write(self, data) -> None:
        self._file.write(data)
        self._pos += len(data) if isinstance(data, bytes) else memoryview(data).nbytes

    def _pad(self) -> None:
        self._write(b"\0" * (-self._pos % self.alignment))

    def write_header(self) -> None:
        """Writes magic, version, counts, metadata, tensor infos and the padding
        before the data section; offsets are laid out in declared order."""
        self._check_open()
        if self.alignment != DEFAULT_ALIGNMENT and "general.alignment" not in self._metadata:
            self.add_metadata("general.alignment", self.alignment, "UINT32")
        offset = 0
        for t in self._tensors:
            t[4] = offset
            offset += -(-t[3] // self.alignment) * self.alignment
        parts = [b"GGUF", struct.pack("<IQQ", 3, len(self._tensors), len(self._metadata))]
        for key, (spec, encoded) in self._metadata.items():
            tag = "ARRAY" if isinstance(spec, tuple) else spec
            parts += [_encode_string(key), struct.pack("<I", _VTYPE_IDS[tag]), encoded]
        for name, shape, type_id, _, offset in self._tensors:
            parts += [_encode_string(name), struct.pack(f"<I{len(shape)}QIQ", len(shape),
                                                        *reversed(shape), type_id, offset)]
        self._write(b"".join(parts))
        self._pad()
        self._header_done = True

    def _next_tensor(self, name: str, method: str):
        """Checks that name is the next declared tensor; returns its (shape, type_id, nbytes)."""
        self._check_open(before_header=False)
        if not self._header_done:
            raise ValueError(f"write_header() must come before {method}()")
        if self._next >= len(self._tensors):
            raise ValueError(f"tensor {name!r}: every declared tensor is already written")
        expected_name, shape, type_id, nbytes, _ = self._tensors[self._next]
        if name != expected_name:
            raise ValueError(f"tensors must be written in declared order: expected "
                             f"{expected_name!r}, got {name!r}")
        return shape, type_id, nbytes

    def write_tensor_data(self, name: str, data) -> None:
        """Writes the next declared tensor's bytes from any C-contiguous buffer."""
        shape, type_id, nbytes = self._next_tensor(name, "write_tensor_data")
        view = memoryview(data)
        if not view.c_contiguous:
            raise ValueError(f"tensor {name!r}: data must be C-contiguous")
        if view.nbytes != nbytes:
            raise ValueError(f"tensor {name!r}: got {view.nbytes} bytes, "
                             f"{_TYPE_TABLE[type_id][0]} {shape} takes {nbytes}")
        self._write(view.cast("B") if view.ndim != 1 or view.format != "B" else view)
        self._pad()
        self._next += 1

    def write_tensor_chunks(self, name: str, chunks) -> None:
        """Writes the next declared tensor from an iterable of C-contiguous buffers
        (e.g. row chunks produced one at a time), so the whole tensor is never in
        hand; the chunks' bytes must add up to the declared size."""
        shape, type_id, nbytes = self._next_tensor(name, "write_tensor_chunks")
        written = 0
        for data in chunks:
            view = memoryview(data)
            if not view.c_contiguous:
                raise ValueError(f"tensor {name!r}: data must be C-contiguous")
            written += view.nbytes
            if written > nbytes:
                raise ValueError(f"tensor {name!r}: more than the {nbytes} bytes "
                                 f"{_TYPE_TABLE[type_id][0]} {shape} takes")
            self._write(view.cast("B") if view.ndim != 1 or view.format != "B" else view)
        if written != nbytes:
            raise ValueError(f"tensor {name!r}: got {written} bytes, "
                             f"{_TYPE_TABLE[type_id][0]} {shape} takes {nbytes}")
        self._pad()
        self._next += 1

    def close(self) -> None:
        """Finishes the file; raises ValueError if a declared tensor was never written."""
        if self._closed:
            return
        try:
            if not self._header_done:
                self.write_header()
            missing = [t[0] for t in self._tensors[self._next:]]
            if missing:
                raise ValueError(f"{len(missing)} declared tensors were never written: {missing[:5]}")
        finally:
            self._finish()

    def _finish(self) -> None:
        self._closed = True
        if self._owns_file:
            self._file.close()
        else:
            self._file.flush()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._finish()  # do not hide the original error behind "tensors never written"
