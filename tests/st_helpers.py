"""Build safetensors files byte by byte, for cases the safetensors package
cannot write (BF16 from raw bits, unaligned offsets, hostile headers)."""
import json
import struct

import numpy as np


def file_bytes(header, data: bytes = b"") -> bytes:
    """header: a dict (dumped as JSON), a str or bytes (used as is)."""
    if isinstance(header, dict):
        header = json.dumps(header)
    if isinstance(header, str):
        header = header.encode("utf-8")
    return struct.pack("<Q", len(header)) + header + data


def tensors_file(tensors, metadata=None, pad: int = 0) -> bytes:
    """tensors: list of (name, dtype, shape, raw bytes), laid out in order with
    no padding (so offsets may be unaligned); pad spaces end the header."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return file_bytes(json.dumps(header) + " " * pad, data)


def write(path, content: bytes):
    path.write_bytes(content)
    return path


def bf16_reference(bits: np.ndarray) -> np.ndarray:
    """Exact float32 of bfloat16 bit patterns: the top half of an f32."""
    return (bits.astype(np.uint32) << 16).view(np.float32)
