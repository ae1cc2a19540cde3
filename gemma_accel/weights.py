"""Weight tables for the C model: GGUF tensors or Hugging Face tensors, by GGUF name.

Matrices are passed as (zero-copy byte view, ggml type id, rows, cols); the C
model reads them in their stored format.  Norm vectors are float32 arrays in
the "multiply by w" convention: GGUF stores Gemma's 1 + w already, Hugging Face
stores w, so 1 is added here for Gemma checkpoints.
"""
import numpy as np

from ._core import ModelFormatError
from .tensor_names import is_norm, map_hf_names

HF_DTYPE_TO_GGML = {"F32": 0, "F16": 1, "BF16": 30}


def _matrix_entry(name, raw, type_id, shape):
    if len(shape) != 2:
        raise ModelFormatError(f"tensor {name} should be 2-D, has shape {tuple(shape)}")
    return raw, int(type_id), int(shape[0]), int(shape[1])


def from_gguf(f) -> dict:
    """{short name: entry} for every tensor of a GGUFFile (name without '.weight')."""
    table = {}
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


def from_hf(ckpt, arch: str) -> dict:
    """{short GGUF name: entry} for the text-decoder tensors of an HFCheckpoint."""
    table = {}
    for hf_name, name in map_hf_names(ckpt.tensors, arch, ckpt.folder).items():
        info = ckpt.tensors[hf_name]
        key = name[: -len(".weight")]
        if is_norm(name):
            w = np.ascontiguousarray(ckpt.dequantize(hf_name), dtype=np.float32).reshape(-1)
            table[key] = w + np.float32(1.0) if arch.startswith("gemma") else w
        else:
            if info.dtype not in HF_DTYPE_TO_GGML:
                raise ModelFormatError(f"{hf_name}: dtype {info.dtype} is not supported for weights")
            table[key] = _matrix_entry(hf_name, ckpt.raw(hf_name), HF_DTYPE_TO_GGML[info.dtype], info.shape)
    return table
