"""A fair evaluation source from a quantized GGUF: dequantize, then dither every weight off its grid.

    degrid("model-Q4_K_M.gguf", "source-degrid.gguf", seed=0)

Requantizing a dequantized Q4_K_M file to the same block types is nearly
lossless (the values already lie on those grids), which flatters llama.cpp's
Q4_K_M and Q8_0 in a table whose source is that file.  This writes an F32 GGUF
whose every quantized weight w on a grid of step s (its block's, or sub-block's,
scale) becomes w + s * u, u ~ Uniform(-1/2, 1/2), seeded per tensor: the same
distance from the grid as the original unquantized weights were (round-to-nearest
leaves an error uniform in half a step), but no longer on it, so that no output
type is favoured.  F32 tensors (norms) are copied.  Steps are read from the
blocks: Q8_0/Q5_0/Q4_0 d; Q4_K d * scale_j (32-element sub-blocks); Q6_K
d * scale_j (16-element sub-blocks).
"""
from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gemma_accel import GGUFFile, block_formats  # noqa: E402
from gemma_accel.gguf_writer import GGUFWriter  # noqa: E402
from gemma_accel.gguf_metadata import from_gguf  # noqa: E402


def _f16(b: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(b).view(np.float16).astype(np.float32)[..., 0]


def grid_steps(raw: np.ndarray, type_name: str, shape) -> np.ndarray:
    """The grid step of every element of a quantized tensor (float32, shape)."""
    rows, n = int(np.prod(shape[:-1])), int(shape[-1])
    nb = n // block_formats.block_size(type_name)
    blk = raw.reshape(rows, nb, block_formats.type_size(type_name))
    if type_name in ("Q8_0", "Q5_0", "Q4_0", "Q4_1", "Q5_1"):
        step = np.repeat(_f16(blk[:, :, 0:2])[..., None], 32, axis=-1)
    elif type_name == "Q4_K":
        d = _f16(blk[:, :, 0:2])
        sc = blk[:, :, 4:16].astype(np.int32)
        j = np.arange(8)
        lo = sc[:, :, np.minimum(j, 3)] & 63                                  # j < 4
        hi = (sc[:, :, np.minimum(j + 4, 11)] & 0xF) | ((sc[:, :, np.maximum(j - 4, 0)] >> 6) << 4)
        scale = np.where(j < 4, lo, hi).astype(np.float32)                  # (rows, nb, 8)
        step = np.repeat((d[..., None] * scale)[..., None], 32, axis=-1)
    elif type_name == "Q6_K":
        scale = blk[:, :, 192:208].view(np.int8).astype(np.float32)         # (rows, nb, 16)
        d = _f16(blk[:, :, 208:210])
        step = np.repeat((d[..., None] * scale)[..., None], 16, axis=-1)
    else:
        raise ValueError(f"no grid step for {type_name}")
    return np.abs(step).reshape(shape).astype(np.float32)   # Q4_0/Q5_0/Q6_K scales may be negative


def degrid(src, dst, seed: int = 0) -> Path:
    dst = Path(dst)
    with GGUFFile(src) as f, open(dst, "wb") as fh:
        w = GGUFWriter(fh)
        for key, value, vtype in from_gguf(f.metadata, f.metadata_types, 0):
            w.add_metadata(key, value, vtype)
        for name, info in f.tensors.items():
            w.add_tensor_info(name, info.shape, "F32")
        w.write_header()
        for name, info in f.tensors.items():
            x = f.dequantize(name).astype(np.float32)
            if info.type not in ("F32", "F16", "BF16"):
                rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
                step = grid_steps(f.raw(name), info.type, info.shape)
                x += step * (rng.random(x.shape, dtype=np.float32) - np.float32(0.5))
            w.write_tensor_data(name, np.ascontiguousarray(x, np.float32))
        w.close()
    return dst


if __name__ == "__main__":
    degrid(sys.argv[1], sys.argv[2])
