"""Compute kernels (gemma_accel.kernels, csrc/cpu/ga_matvec.c, ga_vecdot_*.c, ga_ops*.c) against
NumPy float64 references, and the AVX2 twins against the portable ones.

Error metrics (named bounds below, each a little above what was measured):
* matvec: max_r |y_r - ref_r| / max_r sum_i |W_ri| |x_i|, with ref = dequantize(W) @ x in
  float64.  The error is dominated by the 8-bit activation rounding (as in llama.cpp).
* twins: the same metric between the AVX2 and the portable kernel set (integer sums are
  identical; only float summation order differs).
"""
import struct
import threading
import time
import zlib

import gguf
import numpy as np
import pytest
from gguf import GGMLQuantizationType as T
from gguf import quants

from gemma_accel import _core, kernels

# ---- bounds ------------------------------------------------------------------------------
# measured maxima (this machine, AVX2 and portable alike) in comments
MATVEC_REL_ERR = {
    "Q4_0": 5e-3, "Q4_1": 6e-3, "Q5_0": 5e-3, "Q5_1": 5e-3, "Q8_0": 5e-3,  # 2.5e-3..3.4e-3 (n=32 worst)
    "Q2_K": 3e-3, "Q3_K": 3e-3, "Q4_K": 4e-3, "Q5_K": 3e-3, "Q6_K": 3e-3,  # 1.1e-3..1.9e-3
    "F32": 2e-7, "F16": 2e-7, "BF16": 2e-7,                                   # 5e-8
}
MATVEC_REAL_REL_ERR = 2e-3     # real Gemma tensors, same metric: 2.5e-4 (Q6_K) .. 1.0e-3 (Q8_0)
MATVEC_TWIN_REL_ERR = 3e-7     # AVX2 vs portable matvec: 1.0e-7
RMSNORM_REL_ERR = 3e-7         # max|y - ref| / max|ref|: 1.0e-7
RMSNORM_TWIN_REL_ERR = 1e-7    # 0 (same float ops; double sum of squares)
ROPE_ABS_ERR = 2e-7            # / max|x|: 7e-8; AVX2 and portable are bit-identical
GELU_ABS_ERR = 3e-7            # |y - ref| <= GELU_ABS_ERR * max(1, |x|): 1.1e-7
GELU_TWIN_ABS_ERR = 3e-7
SOFTMAX_ABS_ERR = 1e-7         # outputs are in [0, 1]: 2e-8
SOFTMAX_TWIN_ABS_ERR = 2e-7    # 6e-8 (one ulp of the largest output)

LEGACY = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]
K_TYPES = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
FLOATS = ["F32", "F16", "BF16"]
N_LEGACY = [32, 64, 96, 640, 1024]
N_K = [256, 512, 2048]
ROWS = [1, 3, 31, 33, 257]
ODD_SIZES = [1, 3, 7, 31, 33, 255, 257, 1000]

# every set this CPU can run: "portable", then "avx2", then "avx512" (the AVX2 set plus
# AVX-512 VNNI kernels for the act_bits=16 dot products of the Q8_0 family)
KERNEL_SETS = _core.cpu_info()["kernel_sets"]
HAS_AVX2 = "avx2" in KERNEL_SETS


@pytest.fixture(autouse=True)
def restore_kernel_set():
    previous = _core.set_kernel_set("portable")
    _core.set_kernel_set(previous)
    yield
    _core.set_kernel_set(previous)


def run_in(kset, fn, *args, **kwargs):
    previous = _core.set_kernel_set(kset)
    try:
        return fn(*args, **kwargs)
    finally:
        _core.set_kernel_set(previous)


# ---- weights -----------------------------------------------------------------------------
# f16 fields of the K blocks (byte offsets), filled with sane scales; other bytes random.
K_F16_FIELDS = {"Q2_K": (80, 82), "Q3_K": (108,), "Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,)}


def random_weight(name, rows, n, rng):
    """(block bytes (rows, row_bytes), dequantized float64 (rows, n))."""
    t = T[name]
    if name in FLOATS:
        w = rng.standard_normal((rows, n)).astype(np.float32)
        wb = quants.quantize(w, t) if name != "F32" else w
        wb = np.ascontiguousarray(wb).view(np.uint8).reshape(rows, -1)
    elif name in LEGACY:
        w = rng.standard_normal((rows, n)).astype(np.float32)
        wb = quants.quantize(w, t)
    else:
        bs, ts = gguf.GGML_QUANT_SIZES[t]
        b = rng.integers(0, 256, size=(rows, n // bs, ts), dtype=np.uint8)
        for off in K_F16_FIELDS[name]:
            d = rng.uniform(1e-3, 1e-2, (rows, n // bs)).astype(np.float16)
            b[:, :, off:off + 2] = d.view(np.uint8).reshape(rows, n // bs, 2)
        wb = b.reshape(rows, -1)
    return wb, dequantize(wb, name, rows, n)


def dequantize(wb, name, rows, n):
    if name == "F32":
        return wb.view(np.float32).reshape(rows, n).astype(np.float64)
    return quants.dequantize(np.asarray(wb), T[name]).reshape(rows, n).astype(np.float64)


def matvec_err(y, ref, w, x):
    scale = (np.abs(w) @ np.abs(x.astype(np.float64))).max() + 1e-30
    return float(np.abs(y.astype(np.float64) - ref).max() / scale)


# ---- matvec vs NumPy ---------------------------------------------------------------------
@pytest.mark.parametrize("name,n", [(t, n) for t in LEGACY for n in N_LEGACY] +
                         [(t, n) for t in K_TYPES for n in N_K] +
                         [(t, n) for t in FLOATS for n in (1, 33, 640)])
def test_matvec_matches_numpy(name, n):
    rng = np.random.default_rng(zlib.crc32(f"{name}/{n}".encode()))
    for rows in ROWS:
        wb, w = random_weight(name, rows, n, rng)
        x = (rng.standard_normal(n) * 2).astype(np.float32)
        ref = w @ x.astype(np.float64)
        ys = {}
        for kset in KERNEL_SETS:
            ys[kset] = run_in(kset, kernels.matvec, wb, name, (rows, n), x)
            assert ys[kset].shape == (rows,) and ys[kset].dtype == np.float32
            err = matvec_err(ys[kset], ref, w, x)
            assert err <= MATVEC_REL_ERR[name], (name, n, rows, kset, err)
        if HAS_AVX2:
            err = matvec_err(ys["avx2"], ys["portable"].astype(np.float64), w, x)
            assert err <= MATVEC_TWIN_REL_ERR, (name, n, rows, err)


@pytest.mark.parametrize("name", LEGACY + K_TYPES)
def test_matvec_zero_and_tie_activations(name):
    """All-zero activation blocks (scale 0) and values on rounding ties give the same result."""
    rng = np.random.default_rng(7)
    n = 512
    wb, w = random_weight(name, 5, n, rng)
    x = np.zeros(n, np.float32)
    x[256:] = np.round(rng.uniform(-127, 127, 256)) + 0.5  # .5 ties once scaled by 1
    x[256] = 127.0
    ys = [run_in(k, kernels.matvec, wb, name, (5, n), x) for k in KERNEL_SETS]
    for y in ys:
        assert matvec_err(y, w @ x, w, x) <= MATVEC_REL_ERR[name]
    if HAS_AVX2:
        assert matvec_err(ys[1], ys[0].astype(np.float64), w, x) <= MATVEC_TWIN_REL_ERR


def test_matvec_types_by_id_and_name_and_out():
    rng = np.random.default_rng(1)
    wb, w = random_weight("Q8_0", 3, 64, rng)
    x = rng.standard_normal(64).astype(np.float32)
    out = np.empty(3, np.float32)
    y1 = kernels.matvec(wb, "q8_0", (3, 64), x)
    y2 = kernels.matvec(wb.tobytes(), int(T.Q8_0), (3, 64), x, out=out)
    assert y2 is out
    np.testing.assert_array_equal(y1, y2)
    y3 = kernels.matvec(memoryview(wb.tobytes())[0:wb.nbytes], "Q8_0", (3, 64), x)
    np.testing.assert_array_equal(y1, y3)


@pytest.mark.parametrize("name", LEGACY + K_TYPES + FLOATS)
def test_matvec_unaligned_weight(name):
    """Weight bytes at an odd address (as in an mmapped file) give the same result."""
    rng = np.random.default_rng(4)
    n = 256
    wb, _ = random_weight(name, 3, n, rng)
    x = rng.standard_normal(n).astype(np.float32)
    raw = bytearray(wb.nbytes + 1)
    raw[1:] = wb.tobytes()
    for k in KERNEL_SETS:
        np.testing.assert_array_equal(run_in(k, kernels.matvec, memoryview(raw)[1:], name, (3, n), x),
                                      run_in(k, kernels.matvec, wb, name, (3, n), x))


# ---- activation quantizers: AVX2 bytes == portable bytes (== gguf for Q8_0) --------------
@pytest.mark.parametrize("wtype,n", [("Q8_0", 1024), ("Q4_K", 2048)])
def test_activation_quantizer_twins_identical(wtype, n):
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(n).astype(np.float32) * 3,
          np.round(rng.uniform(-127, 127, n)).astype(np.float32) + 0.5,   # ties
          np.zeros(n, np.float32)]
    x = xs[1].copy()
    x[::32] = 127.0   # Q8_0 scale exactly 1 -> the .5 values are exact ties
    xs.append(x)
    x = rng.standard_normal(n).astype(np.float32)
    x[5], x[9] = -4.0, 4.0   # equal magnitudes of both signs: the first wins
    xs.append(x)
    for x in xs:
        acts = {k: run_in(k, _core.matvec_quantize_act, wtype, x) for k in KERNEL_SETS}
        assert all(acts[k] == acts["portable"] for k in KERNEL_SETS)
        if wtype == "Q8_0":
            assert acts["portable"] == quants.quantize(x.reshape(1, n), T.Q8_0).tobytes()


def _act16_blocks(raw, wtype, n):
    """(scales per element, int8 codes) of one activation array of the Q8_0 / Q8_K family."""
    if wtype == "Q8_0":
        b = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "i1", 32)]))
        return np.repeat(b["d"].astype(np.float64), 32), b["qs"].reshape(-1)
    b = np.frombuffer(raw, np.dtype([("d", "<f4"), ("qs", "i1", 256), ("bsums", "<i2", 16)]))
    assert np.array_equal(b["bsums"], b["qs"].reshape(-1, 16, 16).sum(axis=2))
    return np.repeat(b["d"].astype(np.float64), 256), b["qs"].reshape(-1)


@pytest.mark.parametrize("wtype", ["Q8_0", "Q4_K"])
def test_act16_split(wtype):
    """act_bits=16 activations (csrc/cpu/ga_act16.h): the AVX2 and portable splits give the same
    bytes; hi, lo in [-127, 127]; hi's scale is exactly 256 lo's; 256 hi + lo reconstructs x
    to within 1.5 codes of 16-bit precision (one code more where lo would be -128)."""
    n = 1024
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal(n).astype(np.float32) * 3, np.zeros(n, np.float32),
          (rng.standard_normal(n) * 1e-6).astype(np.float32),          # fp16-subnormal scales
          np.where(rng.random(n) < 0.02, 300.0, 1.0).astype(np.float32) * rng.standard_normal(n).astype(np.float32)]
    for x in xs:
        outs = {k: run_in(k, _core.matvec_quantize_act, wtype, x, 16) for k in KERNEL_SETS}
        assert all(outs[k] == outs["portable"] for k in KERNEL_SETS)
        hi_raw, lo_raw, codes = outs["portable"]
        dh, hi = _act16_blocks(hi_raw, wtype, n)
        dl, lo = _act16_blocks(lo_raw, wtype, n)
        assert hi.min() >= -127 and lo.min() >= -127
        np.testing.assert_array_equal(dh, 256 * dl)
        # the int16 codes of the AVX-512 kernels: exactly 256 hi + lo
        np.testing.assert_array_equal(np.frombuffer(codes, "<i2"), 256 * hi.astype(np.int64) + lo)
        recon = dl * (256.0 * hi + lo)
        assert np.all(np.abs(recon - x) <= 1.5 * dl + 1e-30)
        amax = np.abs(x.reshape(-1, 32 if wtype == "Q8_0" else 256)).max(axis=1)
        step = np.repeat(amax, 32 if wtype == "Q8_0" else 256) / 32512
        assert np.all(dl <= step * 1.002 + 6e-8)   # fp16 rounding up, or its smallest subnormal


# ---- matvec on the real Gemma 3 270M file ------------------------------------------------
def gguf_tensors(path, names):
    """{name: (type name, (rows, n), uint8 memmap rows x row_bytes)} for the named 2-D tensors.

    A minimal tensor-info reader: gguf.GGUFReader would spend ~10 s parsing the 262k-entry
    vocabulary arrays, which this skims over."""
    buf = np.memmap(path, dtype=np.uint8, mode="r")
    mv = memoryview(buf)
    off = 0

    def u(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, mv, off)
        off += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal off
        n = u("Q")
        s = bytes(mv[off:off + n])
        off += n
        return s

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def skip_value(vt):
        nonlocal off
        if vt == 8:
            string()
        elif vt == 9:
            et, cnt = u("I"), u("Q")
            if et in scalar:
                off += cnt * struct.calcsize(scalar[et])
            else:
                for _ in range(cnt):
                    skip_value(et)
        else:
            off += struct.calcsize(scalar[vt])

    assert bytes(mv[:4]) == b"GGUF"
    off = 8
    n_tensors, n_kv = u("Q"), u("Q")
    alignment = 32
    for _ in range(n_kv):
        key, vt = string(), u("I")
        if key == b"general.alignment":
            alignment = u("I")
        else:
            skip_value(vt)
    infos = {}
    for _ in range(n_tensors):
        name = string().decode()
        dims = [u("Q") for _ in range(u("I"))]
        infos[name] = (dims, u("I"), u("Q"))
    data_start = (off + alignment - 1) // alignment * alignment
    out = {}
    for name in names:
        dims, tid, toff = infos[name]
        tname = T(tid).name
        bs, ts = gguf.GGML_QUANT_SIZES[T(tid)]
        n, rows = dims[0], dims[1]
        row_bytes = n // bs * ts
        start = data_start + toff
        out[name] = (tname, (rows, n), buf[start:start + rows * row_bytes].reshape(rows, row_bytes))
    return out


REAL_TENSORS = ["blk.0.attn_q.weight", "blk.0.attn_output.weight", "blk.0.ffn_down.weight",
                "blk.0.attn_v.weight", "token_embd.weight"]


@pytest.fixture(scope="module")
def real_tensors(gemma_path):
    return gguf_tensors(gemma_path, REAL_TENSORS)


@pytest.mark.parametrize("name", REAL_TENSORS)
def test_matvec_real_gemma_tensors(real_tensors, name):
    tname, (rows, n), wb = real_tensors[name]
    if name == "token_embd.weight":   # a 4096-row slice of the 262144 x 640 Q8_0 table
        wb, rows = wb[100000:104096], 4096
    w = dequantize(wb, tname, rows, n)
    x = np.random.default_rng(5).standard_normal(n).astype(np.float32)
    ref = w @ x.astype(np.float64)
    ys = {k: run_in(k, kernels.matvec, wb, tname, (rows, n), x) for k in KERNEL_SETS}
    for k, y in ys.items():
        assert matvec_err(y, ref, w, x) <= MATVEC_REAL_REL_ERR, (name, tname, k)
    if HAS_AVX2:
        assert matvec_err(ys["avx2"], ys["portable"].astype(np.float64), w, x) <= MATVEC_TWIN_REL_ERR


# ---- elementwise ops ---------------------------------------------------------------------
def np_rmsnorm(x, w, eps):
    x = x.astype(np.float64)
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y if w is None else y * w


@pytest.mark.parametrize("n", ODD_SIZES)
def test_rmsnorm(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal((3, n)) * 50).astype(np.float32)
    w = rng.standard_normal(n).astype(np.float32)
    for weight in (None, w):
        ref = np_rmsnorm(x, weight, 1e-6)
        ys = {k: run_in(k, kernels.rmsnorm, x, weight, 1e-6) for k in KERNEL_SETS}
        for y in ys.values():
            assert y.shape == x.shape and y.dtype == np.float32
            assert np.abs(y - ref).max() / np.abs(ref).max() <= RMSNORM_REL_ERR
        if HAS_AVX2:
            assert np.abs(ys["avx2"] - ys["portable"]).max() / np.abs(ref).max() <= RMSNORM_TWIN_REL_ERR
    np.testing.assert_allclose(kernels.rmsnorm(x[0]), np_rmsnorm(x[0], None, 1e-6), rtol=RMSNORM_REL_ERR)


def np_rope(x, pos, base, freq_scale, rot_dim):
    """NEOX rotation in float64; x (seq, heads, head_dim), pos (seq,)."""
    x = x.astype(np.float64).copy()
    half = rot_dim // 2
    inv = base ** (-2.0 * np.arange(half) / rot_dim)
    theta = np.asarray(pos, np.float64)[:, None] * freq_scale * inv[None, :]
    c, s = np.cos(theta)[:, None, :], np.sin(theta)[:, None, :]
    a, b = x[..., :half].copy(), x[..., half:rot_dim].copy()
    x[..., :half] = a * c - b * s
    x[..., half:rot_dim] = a * s + b * c
    return x


@pytest.mark.parametrize("head_dim,rot_dim", [(256, 256), (64, 32), (10, 6), (2, 2)])
@pytest.mark.parametrize("base,freq_scale", [(10000.0, 1.0), (1e6, 0.125)])
def test_rope(head_dim, rot_dim, base, freq_scale):
    rng = np.random.default_rng(head_dim + rot_dim)
    pos = np.array([0, 1, 17, 511, 32767])
    x = rng.standard_normal((len(pos), 3, head_dim)).astype(np.float32)
    ref = np_rope(x, pos, base, freq_scale, rot_dim)
    ys = {k: run_in(k, kernels.rope, x, pos, base, freq_scale, rot_dim) for k in KERNEL_SETS}
    for y in ys.values():
        assert y.shape == x.shape
        assert np.abs(y - ref).max() / np.abs(x).max() <= ROPE_ABS_ERR
        np.testing.assert_array_equal(y[..., rot_dim:], x[..., rot_dim:])
    if HAS_AVX2:
        np.testing.assert_array_equal(ys["avx2"], ys["portable"])
    # 2-D input with one int position equals row 3 of the batch
    np.testing.assert_array_equal(kernels.rope(x[3], 511, base, freq_scale, rot_dim), ys["portable"][3])


def np_gelu(x):
    x = x.astype(np.float64)
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def gelu_inputs(n, rng):
    return np.concatenate([np.linspace(-12, 12, n), rng.standard_normal(n) * 3]).astype(np.float32)


@pytest.mark.parametrize("n", ODD_SIZES)
def test_gelu_tanh(n):
    rng = np.random.default_rng(n)
    x = gelu_inputs(n, rng)
    up = rng.standard_normal(x.shape).astype(np.float32)
    ref = np_gelu(x)
    bound = GELU_ABS_ERR * np.maximum(1, np.abs(x))
    ys = {k: run_in(k, kernels.gelu_tanh, x) for k in KERNEL_SETS}
    for k, y in ys.items():
        assert np.all(np.abs(y - ref) <= bound), (k, np.abs(y - ref).max())
        ym = run_in(k, kernels.gelu_tanh_mul, x, up)
        assert np.all(np.abs(ym - ref * up) <= bound * np.abs(up) + 1e-30)
    if HAS_AVX2:
        assert np.all(np.abs(ys["avx2"] - ys["portable"]) <= GELU_TWIN_ABS_ERR * np.maximum(1, np.abs(x)))


def np_softmax(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("n", ODD_SIZES)
def test_softmax(n):
    rng = np.random.default_rng(n)
    x = np.stack([rng.standard_normal(n) * 1, rng.standard_normal(n) * 1000,
                  rng.standard_normal(n) * 30 + 1e4]).astype(np.float32)
    x[0, ::3] = -np.inf   # masked entries (keeps x[0, 1] finite when n > 1)
    if n == 1:
        x[0, 0] = 0.5
    ref = np_softmax(x)
    ys = {k: run_in(k, kernels.softmax, x) for k in KERNEL_SETS}
    for y in ys.values():
        assert np.abs(y - ref).max() <= SOFTMAX_ABS_ERR
        assert np.all(y[0, ::3] == 0) or n == 1
        np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)
    if HAS_AVX2:
        assert np.abs(ys["avx2"] - ys["portable"]).max() <= SOFTMAX_TWIN_ABS_ERR
    masked = np.full(n, -np.inf, np.float32)
    for k in KERNEL_SETS:
        np.testing.assert_array_equal(run_in(k, kernels.softmax, masked), np.zeros(n, np.float32))


def test_ops_do_not_modify_inputs():
    x = np.linspace(-3, 3, 64, dtype=np.float32).reshape(2, 4, 8)
    keep = x.copy()
    kernels.rmsnorm(x), kernels.rope(x, [1, 2]), kernels.gelu_tanh(x), kernels.softmax(x)
    np.testing.assert_array_equal(x, keep)


# ---- validation --------------------------------------------------------------------------
def test_matvec_validation():
    rng = np.random.default_rng(2)
    wb, _ = random_weight("Q8_0", 4, 64, rng)
    x = rng.standard_normal(64).astype(np.float32)
    with pytest.raises(TypeError, match="float32"):
        kernels.matvec(wb, "Q8_0", (4, 64), x.astype(np.float64))
    with pytest.raises(TypeError, match="ndarray"):
        kernels.matvec(wb, "Q8_0", (4, 64), list(x))
    with pytest.raises(ValueError, match="contiguous"):
        kernels.matvec(wb, "Q8_0", (4, 64), np.repeat(x, 2)[::2])
    with pytest.raises(ValueError, match="contiguous"):
        kernels.matvec(np.asfortranarray(wb), "Q8_0", (4, 64), x)
    with pytest.raises(ValueError, match="bytes"):
        kernels.matvec(wb[:3], "Q8_0", (4, 64), x)
    with pytest.raises(ValueError, match="shape"):
        kernels.matvec(wb, "Q8_0", (4, 64), x[:32])
    with pytest.raises(ValueError, match="block size"):
        kernels.matvec(wb, "Q8_0", (8, 31), x[:31])
    with pytest.raises(ValueError, match="unknown tensor type"):
        kernels.matvec(wb, "Q9_9", (4, 64), x)
    with pytest.raises(ValueError, match="unknown tensor type id"):
        kernels.matvec(wb, 5, (4, 64), x)
    with pytest.raises(Exception, match="does not support"):
        kernels.matvec(wb, "IQ4_NL", (4, 64), x)
    with pytest.raises(TypeError, match="buffer"):
        kernels.matvec(object(), "Q8_0", (4, 64), x)
    with pytest.raises(ValueError, match="out"):
        kernels.matvec(wb, "Q8_0", (4, 64), x, out=np.empty(3, np.float32))


def test_ops_validation():
    x = np.ones((2, 8), np.float32)
    with pytest.raises(TypeError):
        kernels.gelu_tanh(np.array(["a"]))
    with pytest.raises(ValueError, match="weight"):
        kernels.rmsnorm(x, np.ones(7, np.float32))
    with pytest.raises(ValueError, match="rot_dim"):
        kernels.rope(x, 0, rot_dim=3)
    with pytest.raises(ValueError, match="positions"):
        kernels.rope(np.ones((3, 2, 8), np.float32), [0, 1])
    with pytest.raises(ValueError, match="same shape"):
        kernels.gelu_tanh_mul(x, x[0])


# ---- threads -----------------------------------------------------------------------------
def _ticks_inside(call):
    """Runs call() on a worker thread while this thread counts loop iterations; returns how
    many fell in the middle 60% of the call and the call's seconds.  A call that holds the GIL
    throughout leaves no room for any there: this thread hands the GIL over within
    sys.getswitchinterval() (5 ms) of the call's start and gets it back at its end."""
    window = {}
    stamps = []

    def worker():
        window["t0"] = time.perf_counter()
        call()
        window["t1"] = time.perf_counter()

    th = threading.Thread(target=worker)
    th.start()
    while th.is_alive():
        stamps.append(time.perf_counter())
    th.join()
    t0, t1 = window["t0"], window["t1"]
    lo, hi = t0 + 0.2 * (t1 - t0), t1 - 0.2 * (t1 - t0)
    return sum(lo < s < hi for s in stamps), t1 - t0


def test_matvec_releases_gil():
    """While one matvec call streams 140 MB of weights, this thread keeps running Python: the
    kernel released the GIL.  The same measurement on a C call that holds the GIL (a
    backtracking regular expression) counts no iterations, so the check can fail."""
    rows, n = 32768, 4096
    wb = np.zeros(rows * (n // 32) * 34, np.uint8)  # Q8_0 blocks of zeros: the kernel reads them all
    x = np.ones(n, np.float32)
    inside, secs = _ticks_inside(lambda: kernels.matvec(wb, "Q8_0", (rows, n), x))
    assert inside > 100, f"only {inside} Python iterations ran during a {secs * 1e3:.1f} ms matvec"

    import re
    pattern = re.compile(r"(a|aa)*c")  # backtracks ~1.6x longer per extra "a"
    n = 20
    while True:  # a subject that holds the GIL for at least 60 ms on this machine
        t0 = time.perf_counter()
        pattern.fullmatch("a" * n)
        if time.perf_counter() - t0 > 0.06:
            break
        n += 1
    held, held_secs = _ticks_inside(lambda: pattern.fullmatch("a" * n))
    assert held_secs > 0.05 and held == 0, (held, held_secs)


def test_matvec_is_thread_safe():
    """Two threads run matvec on one large matrix at once; results equal the serial ones."""
    rng = np.random.default_rng(11)
    rows, n = 4096, 1024
    wb = quants.quantize(rng.standard_normal((rows, n)).astype(np.float32), T.Q8_0)
    xs = [rng.standard_normal(n).astype(np.float32) for _ in range(4)]
    serial = [kernels.matvec(wb, "Q8_0", (rows, n), x) for x in xs]
    results = [[None] * len(xs) for _ in range(2)]

    def work(t):
        for i, x in enumerate(xs):
            results[t][i] = kernels.matvec(wb, "Q8_0", (rows, n), x)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in range(2):
        for i in range(len(xs)):
            np.testing.assert_array_equal(results[t][i], serial[i])
