"""Compute kernels on NumPy arrays: block-format matrix-vector product and the small ops
of the Gemma forward pass (rmsnorm, rope, gelu_tanh, softmax).

Every function runs in C (AVX2 or AVX-512 kernels when the CPU has them, else portable; see
``gemma_accel._core.set_kernel_set``) with the GIL released, and returns a new array.

    >>> import numpy as np
    >>> from gemma_accel import kernels
    >>> kernels.softmax(np.array([0.0, 0.0], np.float32)).tolist()
    [0.5, 0.5]
"""
import numpy as np

from . import _core
from .block_formats import dequantize, quantize

__all__ = ["quantize", "dequantize", "matvec", "rmsnorm", "rope", "gelu_tanh", "gelu_tanh_mul", "softmax"]


def _as_f32(x, name):
    """Float input as a C-contiguous float32 array (a copy only when needed); TypeError otherwise."""
    a = np.asarray(x)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, not dtype {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.float32)


def matvec(weight, type, shape, x, out=None):
    """y = W @ x for a weight matrix W stored in a ggml block format.

    weight: a C-contiguous buffer (bytes, memoryview, uint8 ndarray of any shape) holding
        rows x row_bytes bytes, row_bytes = n / block_size * type_size.
    type: a type name ("Q4_K") or ggml type id; Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K Q4_K Q5_K
        Q6_K F32 F16 BF16.
    shape: (rows, n) in NumPy order (n = GGUF ne[0], a multiple of the block size).
    x: float32 ndarray (n,), C-contiguous (no conversion: other dtypes raise TypeError).
    out: optional float32 ndarray (rows,) to write into.
    Returns float32 (rows,).  Like llama.cpp, x is first quantized to 8 bits (Q8_0 or Q8_K
    blocks) for the quantized types, so results differ from dequantize(W) @ x by ~1e-2 of
    max|y| at most (see tests/test_kernels.py MATVEC_REL_ERR).
    """
    rows, n = (int(v) for v in shape)
    return _core.matvec(weight, type, rows, n, x, out)


def rmsnorm(x, weight=None, eps=1e-6):
    """x / sqrt(mean(x**2, axis=-1) + eps) * weight over the last axis.

    x: float array (..., n) (converted to float32); weight: float (n,) or None.
    Returns float32 of x's shape.  (GGUF Gemma norm weights already include the +1.)
    """
    x = _as_f32(x, "x")
    w = None if weight is None else _as_f32(weight, "weight")
    return _core.rmsnorm(x, w, float(eps))


def rope(x, pos, base=10000.0, freq_scale=1.0, rot_dim=None):
    """NEOX rotary embedding: pairs (i, i + rot_dim/2) rotated by pos*freq_scale*base**(-2i/rot_dim).

    x: float (n_heads, head_dim) with pos an int, or (seq, n_heads, head_dim) with pos an int
        (same position for every row) or an int array (seq,).
    rot_dim: even, <= head_dim (default head_dim); elements past it are unchanged.
    Returns a new float32 array of x's shape.
    """
    x = _as_f32(x, "x")
    if x.ndim not in (2, 3):
        raise ValueError(f"x must have shape (n_heads, head_dim) or (seq, n_heads, head_dim), not {x.shape}")
    x3 = x[None] if x.ndim == 2 else x
    positions = np.asarray(pos)
    if positions.dtype.kind not in "iu":
        raise TypeError(f"pos must be an int or an int array, not dtype {positions.dtype}")
    if positions.ndim == 0:
        positions = np.full(x3.shape[0], int(positions), np.int64)
    elif x.ndim == 2:
        raise ValueError("pos must be a single int for x of shape (n_heads, head_dim)")
    rot = x.shape[-1] if rot_dim is None else int(rot_dim)
    y = _core.rope(x3, positions.astype(np.int64, copy=False), float(base), float(freq_scale), rot)
    return y.reshape(x.shape)


def gelu_tanh(x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))) elementwise; float32 of x's shape."""
    return _core.gelu_tanh(_as_f32(x, "x"))


def gelu_tanh_mul(gate, up):
    """gelu_tanh(gate) * up (the gated MLP's fused step); float32 arrays of one shape."""
    return _core.gelu_tanh_mul(_as_f32(gate, "gate"), _as_f32(up, "up"))


def softmax(x):
    """Softmax over the last axis (max-subtracted; -inf entries give 0, an all -inf row gives 0s)."""
    return _core.softmax(_as_f32(x, "x"))
