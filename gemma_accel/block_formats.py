"""The ggml block formats: dequantize file bytes to float32, quantize float32 to blocks.

    >>> import numpy as np
    >>> from gemma_accel import block_formats as bf
    >>> x = np.linspace(-1, 1, 2 * 256, dtype=np.float32).reshape(2, 256)
    >>> q = bf.quantize(x, "Q4_K")
    >>> q.shape, q.dtype
    ((2, 144), dtype('uint8'))
    >>> y = bf.dequantize(q, "q4_k", x.shape)
    >>> bool(np.abs(y - x).max() < 0.05)
    True

A *type* is a name ("Q4_K", any case), a ggml id (12), or anything with an
integer ``.value`` such as ``gguf.GGMLQuantizationType.Q4_K``.  Rows are the
last axis (NumPy order, GGUF's ne[0]); a row's length must be a multiple of the
type's block size.  Conversions run in C with the GIL released and match ggml
bit for bit (see tests/test_quants.py).
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Sequence

import numpy as np

from . import _core

__all__ = [
    "dequantize", "quantize", "type_id", "type_name", "block_size", "type_size", "row_nbytes",
    "QUANTIZABLE", "DEQUANTIZABLE",
]


def _info(type: Any) -> dict:
    if isinstance(type, bool):
        raise ValueError(f"unknown tensor type {type!r}")
    if isinstance(type, str):
        return _core.type_info(type)
    if isinstance(type, numbers.Integral):
        return _core.type_info(int(type))
    value = getattr(type, "value", None)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return _core.type_info(int(value))
    raise ValueError(f"unknown tensor type {type!r}: give a name ('Q4_K'), an id (12) "
                     f"or an object with an integer .value")


def type_id(type: Any) -> int:
    """The ggml id of a type: ``type_id("q4_k") == type_id(12) == 12``.  ValueError if unknown."""
    return _info(type)["id"]


def type_name(type: Any) -> str:
    """The canonical name of a type: ``type_name(12) == "Q4_K"``.  ValueError if unknown."""
    return _info(type)["name"]


def block_size(type: Any) -> int:
    """Elements per block (32 for Q4_0, 256 for the K formats, 1 for F32/F16/BF16)."""
    return _info(type)["block_size"]


def type_size(type: Any) -> int:
    """Bytes per block (18 for Q4_0, 144 for Q4_K, 2 for F16)."""
    return _info(type)["type_size"]


def row_nbytes(type: Any, n: int) -> int:
    """Bytes of n elements of type; ValueError unless n is a non-negative multiple of the block size."""
    info = _info(type)
    n = int(n)
    if n < 0 or n % info["block_size"]:
        raise ValueError(f"{n} elements is not a non-negative multiple of {info['name']}'s "
                         f"block size {info['block_size']}")
    return n // info["block_size"] * info["type_size"]


def _names(key: str) -> tuple:
    names = []
    for i in range(64):
        try:
            info = _core.type_info(i)
        except ValueError:
            continue
        if info[key]:
            names.append(info["name"])
    return tuple(names)


#: Names of the types dequantize() decodes.
DEQUANTIZABLE = _names("can_dequantize")
#: Names of the types quantize() encodes (round-to-nearest, no importance matrix).
QUANTIZABLE = _names("can_quantize")


def _shape_tuple(shape: int | Sequence[int]) -> tuple:
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    shape = tuple(int(s) for s in shape)
    if not shape:
        raise ValueError("shape must have at least one dimension")
    if any(s < 0 for s in shape):
        raise ValueError(f"shape {shape} has a negative dimension")
    return shape


def dequantize(data: Any, type: Any, shape: int | Sequence[int]) -> np.ndarray:
    """Decode the blocks in ``data`` to a float32 array of ``shape``.

    data: any C-contiguous buffer (bytes, memoryview, mmap slice, NumPy array)
    holding exactly ``row_nbytes(type, shape[-1]) * prod(shape[:-1])`` bytes.
    shape[-1] (the row length) must be a multiple of the block size.
    Raises ValueError on a wrong byte count or shape, gemma_accel.Error for a
    type that cannot be decoded (e.g. IQ2_XXS).
    """
    info = _info(type)
    shape = _shape_tuple(shape)
    if shape[-1] % info["block_size"]:
        raise ValueError(f"row length {shape[-1]} is not a multiple of {info['name']}'s "
                         f"block size {info['block_size']}")
    n = math.prod(shape)
    if isinstance(data, np.ndarray) and not data.flags.c_contiguous:
        raise ValueError("data must be a C-contiguous buffer")
    nbytes = memoryview(data).nbytes
    expected = n // info["block_size"] * info["type_size"]
    if nbytes != expected:
        raise ValueError(f"{info['name']} tensor of shape {shape} needs {expected} bytes, "
                         f"got {nbytes}")
    if isinstance(data, np.ndarray) and data.dtype != np.uint8:
        data = data.view(np.uint8)
    return _core.dequantize(data, info["id"], n).reshape(shape)


def quantize(x: Any, type: Any) -> np.ndarray:
    """Round-to-nearest quantize the rows of ``x`` (last axis) to ``type``.

    x: a real floating array (float16/32/64; converted to float32) with at least
    one dimension whose last dimension is a multiple of the block size.
    Returns uint8 of shape ``x.shape[:-1] + (row_nbytes(type, x.shape[-1]),)``.
    Bytes equal ggml's quantize_row_*_ref (no importance matrix).  Raises
    ValueError on bad input, gemma_accel.Error for a type that cannot be
    encoded (e.g. Q2_K).
    """
    info = _info(type)
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise ValueError(f"x must be a floating-point array, got dtype {arr.dtype}")
    if arr.ndim == 0:
        raise ValueError("x must have at least one dimension, got a scalar")
    if arr.shape[-1] % info["block_size"]:
        raise ValueError(f"row length {arr.shape[-1]} is not a multiple of {info['name']}'s "
                         f"block size {info['block_size']}")
    arr = np.require(arr, np.float32, ["C_CONTIGUOUS", "ALIGNED"])
    row_bytes = arr.shape[-1] // info["block_size"] * info["type_size"]
    return _core.quantize(arr, info["id"]).reshape(arr.shape[:-1] + (row_bytes,))
