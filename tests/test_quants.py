"""Block formats (gemma_accel.block_formats, _core.dequantize/quantize).

Oracles:
  * gguf.quants (gguf-py's NumPy code) for dequantizing every type it has and
    for quantizing Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, BF16; NumPy astype for F16.
  * llama.cpp's own ggml (libggml-base.so bundled with llama-cpp-python,
    through ctypes) for quantizing Q4_K, Q5_K, Q6_K, Q8_K and, again, the
    legacy types.  Skipped when llama_cpp is not installed.

Result: every type we quantize is byte-identical to every oracle it has on
the data below (Q4_K/Q5_K/Q6_K/Q8_K: ggml only, gguf-py has no quantizer for
them); no type differs.  ggml's libggml-base is built without FMA, as our C is
(-std=c11 disables contraction), which is why the K-quant scale searches agree
to the bit.  Caveat (by design, not tested): inputs holding NaN or inf give
unspecified blocks in every implementation.

Real files: every tensor of both bundled GGUFs is compared; tensors with more
than FILE_FULL_ROWS_MAX rows (Gemma's 262144-row token_embd) are compared on
3 x FILE_ROW_SAMPLE rows to stay within a few seconds.

Both kernel sets are checked where the CPU has AVX2; the AVX2 twins must equal
the portable code bit for bit.
"""
import ctypes
import mmap
import os

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf import quants as gguf_quants

import gemma_accel
from gemma_accel import _core
from gemma_accel import block_formats as bf

# ---- named constants ----------------------------------------------------------------

SEED = 20250611
N_RANDOM_BLOCKS = 300          # random blocks per type in the dequantization check
FILE_ROW_SAMPLE = 2048         # rows compared at the start, middle and end of big tensors
FILE_FULL_ROWS_MAX = 8192      # tensors with at most this many rows are compared whole
ROUND_TRIP_SHAPES = [(1, 1024), (7, 512), (33, 256)]  # odd row counts

# RMSE of quantize -> dequantize on N(0, 1) data (measured values about 15 % lower).
RMSE_MAX = {
    "F32": 0.0,
    "F16": 0.00025,
    "BF16": 0.002,
    "Q8_0": 0.0065,
    "Q8_K": 0.0082,
    "Q6_K": 0.021,
    "Q5_0": 0.050,
    "Q5_1": 0.045,
    "Q5_K": 0.042,
    "Q4_0": 0.100,
    "Q4_1": 0.090,
    "Q4_K": 0.082,
}

# Byte offsets of the f16 scale fields in each block (the rest is free-form bits).
F16_FIELDS = {
    "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "Q8_0": [0],
    "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208],
}
GGUF_DEQUANT_TYPES = list(F16_FIELDS) + ["F16", "BF16", "F32"]
GGUF_QUANT_TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "BF16"]
GGML_QUANT_TYPES = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K", "F16", "BF16"]

ORIGINAL_KERNEL_SET = gemma_accel.info()["kernel_set"]
KERNEL_SETS = [k for k in ("portable", "avx2") if k in gemma_accel.info()["kernel_sets"]]


# ---- helpers ------------------------------------------------------------------------

@pytest.fixture(params=["portable", "avx2"])
def kernel_set(request):
    """Runs the test under one kernel set and restores the original afterwards."""
    if request.param not in KERNEL_SETS:
        pytest.skip("this CPU cannot run the avx2 kernel set")
    previous = _core.set_kernel_set(request.param)
    try:
        yield request.param
    finally:
        _core.set_kernel_set(previous)


@pytest.fixture
def restore_kernel_set():
    previous = _core.set_kernel_set(ORIGINAL_KERNEL_SET)
    try:
        yield
    finally:
        _core.set_kernel_set(previous)


def gguf_type(name):
    return GGMLQuantizationType[name]


def gguf_dequantize(data, name):
    with np.errstate(all="ignore"):
        return gguf_quants.dequantize(data, gguf_type(name)).reshape(-1)


def random_blocks(rng, name, n_blocks):
    """Random block bytes whose f16 scales are finite and of sane size."""
    block, size = GGML_QUANT_SIZES[gguf_type(name)]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for off in F16_FIELDS.get(name, []):
        scales = (rng.standard_normal(n_blocks) * 0.05).astype(np.float16)
        scales[::17] = 0                              # some zero scales
        scales[5::23] = np.float16(3e-6)              # some subnormal scales
        raw[:, off:off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return raw.reshape(-1)


def finite_halves(rng, n):
    """Random 16-bit patterns with every exponent (subnormals, +-0) but no inf/NaN."""
    h = rng.integers(0, 1 << 16, size=n, dtype=np.uint16)
    return np.where((h & 0x7C00) == 0x7C00, h & 0x83FF, h).astype(np.uint16)


def edge_case_rows(rng, n):
    """Rows of n floats: Gaussian, all zero, one huge value, negative only,
    tiny (near the f16 subnormal range), block-wise varying scale, exact ties,
    constant, and large-but-finite."""
    g = rng.standard_normal(n).astype(np.float32)
    huge = g.copy()
    huge[n // 3] = 1e4
    ties = ((np.arange(n) % 17) - 8).astype(np.float32) * 0.5
    scaled = g * (10.0 ** rng.uniform(-3, 3, size=n // 32)).repeat(32).astype(np.float32)
    rows = [g, np.zeros(n, np.float32), huge, -np.abs(g), g * 1e-7, scaled, ties,
            np.full(n, 0.3, np.float32), g * 3e4]
    return np.stack(rows).astype(np.float32)


def assert_same_bits(got, want, what=""):
    """Bit-for-bit float32 equality (so -0.0 != 0.0 and NaN payloads count),
    reported by count and first index; much faster than assert_array_equal."""
    got_bits = np.ascontiguousarray(got, np.float32).view(np.uint32)
    want_bits = np.ascontiguousarray(want, np.float32).view(np.uint32)
    assert got_bits.shape == want_bits.shape, f"{what}: shape {got.shape} != {want.shape}"
    if not np.array_equal(got_bits, want_bits):
        bad = np.argwhere(got_bits != want_bits)
        i = tuple(bad[0])
        raise AssertionError(f"{what}: {len(bad)} of {got.size} values differ, first at {i}: "
                             f"got {got[i]!r}, want {want[i]!r}")


def rmse(a, b):
    return float(np.sqrt(np.mean((a.astype(np.float64) - b) ** 2)))


# ---- the type table -----------------------------------------------------------------

def test_type_table_matches_gguf():
    for t, (block, size) in GGML_QUANT_SIZES.items():
        if t.value >= 40 or t.name == "Q8_1":   # Q8_1: gguf-py says 40 bytes, ggml 36
            continue
        assert bf.type_id(t) == t.value
        assert bf.type_id(t.name.lower()) == t.value
        assert bf.type_name(t.value) == t.name
        assert bf.block_size(t) == block
        assert bf.type_size(t.name) == size
        assert bf.row_nbytes(t, 4 * block) == 4 * size


def test_supported_type_lists():
    assert set(bf.DEQUANTIZABLE) == {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
                                     "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"}
    assert set(bf.QUANTIZABLE) == {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0",
                                   "Q4_K", "Q5_K", "Q6_K", "Q8_K"}
    info = _core.type_info("q6_k")
    assert info == {"id": 14, "name": "Q6_K", "block_size": 256, "type_size": 210,
                    "can_dequantize": True, "can_quantize": True}


# ---- dequantization against gguf-py --------------------------------------------------

@pytest.mark.parametrize("name", GGUF_DEQUANT_TYPES)
def test_dequantize_random_blocks_match_gguf(kernel_set, name):
    rng = np.random.default_rng([SEED, bf.type_id(name)])
    if name in ("F16", "BF16"):
        data = finite_halves(rng, N_RANDOM_BLOCKS * 32 + 5).view(np.uint8)  # +5: SIMD tail
    elif name == "F32":
        data = rng.standard_normal(N_RANDOM_BLOCKS * 32).astype(np.float32).view(np.uint8)
    else:
        data = random_blocks(rng, name, N_RANDOM_BLOCKS)
    n = data.size // bf.type_size(name) * bf.block_size(name)
    got = bf.dequantize(data, name, (n,))
    if name == "F16":
        want = data.view(np.float16).astype(np.float32)
    else:
        want = gguf_dequantize(data, name)
    assert got.dtype == np.float32 and got.shape == (n,)
    assert_same_bits(got, want, name)


@pytest.mark.parametrize("name", list(F16_FIELDS))
def test_dequantize_raw_random_bytes_match_gguf(kernel_set, name):
    """Unfiltered bytes: scales may be inf, NaN or subnormal; still bit-identical."""
    rng = np.random.default_rng([SEED, 1, bf.type_id(name)])
    block, size = GGML_QUANT_SIZES[gguf_type(name)]
    data = rng.integers(0, 256, size=64 * size, dtype=np.uint8)
    got = bf.dequantize(data, name, 64 * block)
    assert_same_bits(got, gguf_dequantize(data, name), name)


def test_dequantize_every_f16_pattern(kernel_set):
    halves = np.arange(1 << 16, dtype=np.uint16)
    got = bf.dequantize(halves, "F16", halves.size)
    want = halves.view(np.float16).astype(np.float32)
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
    got = bf.dequantize(halves, "BF16", halves.size)
    np.testing.assert_array_equal(got.view(np.uint32), halves.astype(np.uint32) << 16)


def test_dequantize_q8_K_is_d_times_qs(kernel_set):
    """gguf-py has no Q8_K: d (f32 at offset 0) * qs (256 int8), bsums ignored."""
    rng = np.random.default_rng([SEED, 15])
    dtype = np.dtype([("d", "<f4"), ("qs", "i1", 256), ("bsums", "<i2", 16)])
    assert dtype.itemsize == bf.type_size("Q8_K")
    blocks = np.zeros(N_RANDOM_BLOCKS, dtype)
    blocks["d"] = rng.standard_normal(N_RANDOM_BLOCKS) * 0.01
    blocks["qs"] = rng.integers(-128, 128, size=(N_RANDOM_BLOCKS, 256))
    blocks["bsums"] = rng.integers(-2000, 2000, size=(N_RANDOM_BLOCKS, 16))
    got = bf.dequantize(blocks.view(np.uint8), "Q8_K", (N_RANDOM_BLOCKS, 256))
    want = blocks["d"][:, None] * blocks["qs"].astype(np.float32)
    np.testing.assert_array_equal(got, want)


def test_avx2_twins_equal_portable(restore_kernel_set):
    if "avx2" not in KERNEL_SETS:
        pytest.skip("this CPU cannot run the avx2 kernel set")
    rng = np.random.default_rng([SEED, 2])
    for name in bf.DEQUANTIZABLE:
        if name in F16_FIELDS:
            data = random_blocks(rng, name, 257)
        else:
            data = rng.integers(0, 256, size=257 * 8 * bf.type_size(name), dtype=np.uint8)
        n = data.size // bf.type_size(name) * bf.block_size(name)
        _core.set_kernel_set("portable")
        want = bf.dequantize(data, name, n)
        _core.set_kernel_set("avx2")
        got = bf.dequantize(data, name, n)
        assert_same_bits(got, want, name)


@pytest.mark.parametrize("name", sorted(bf.DEQUANTIZABLE))
def test_dequantize_unaligned_blocks(kernel_set, name):
    """Blocks in a file start at any byte; odd offsets must decode the same."""
    rng = np.random.default_rng([SEED, 8, bf.type_id(name)])
    size = 9 * bf.type_size(name) * (8 if bf.block_size(name) == 1 else 1)
    raw = random_blocks(rng, name, size // bf.type_size(name)).tobytes() if name in F16_FIELDS \
        else finite_halves(rng, size // 2).tobytes()
    n = size // bf.type_size(name) * bf.block_size(name)
    want = bf.dequantize(raw, name, n)
    for offset in (1, 3):
        shifted = np.frombuffer(bytes(offset) + raw, np.uint8)[offset:]
        assert_same_bits(bf.dequantize(shifted, name, n), want, f"{name} at offset {offset}")


# ---- dequantization of the real model files -------------------------------------------

def row_slices(n_rows):
    """Whole tensor when small, else FILE_ROW_SAMPLE rows at start, middle and end."""
    if n_rows <= FILE_FULL_ROWS_MAX:
        return [slice(0, n_rows)]
    mid = n_rows // 2
    return [slice(0, FILE_ROW_SAMPLE), slice(mid, mid + FILE_ROW_SAMPLE),
            slice(n_rows - FILE_ROW_SAMPLE, n_rows)]


_GGUF_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_tensors(path):
    """(name, type name, NumPy shape, byte array) for each tensor of a GGUF file.

    A minimal walk of the GGUF v3 header.  gguf.GGUFReader would do, but it
    turns Gemma's 262144-token vocabulary into Python objects first (~13 s
    here), which is most of this file's time budget.
    """
    import struct

    with open(path, "rb") as f:
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def string():
        nonlocal pos
        n = take("Q")
        pos += n
        return bytes(buf[pos - n:pos]).decode()

    def skip_value(vtype):
        nonlocal pos
        if vtype == 8:
            string()
        elif vtype == 9:
            etype, count = take("IQ")
            if etype in _GGUF_SCALAR_SIZES:
                pos += count * _GGUF_SCALAR_SIZES[etype]
            else:
                for _ in range(count):
                    skip_value(etype)
        else:
            pos += _GGUF_SCALAR_SIZES[vtype]

    magic, version, n_tensors, n_kv = take("4sIQQ")
    assert magic == b"GGUF" and version == 3
    alignment = 32
    for _ in range(n_kv):
        key, vtype = string(), take("I")
        if key == "general.alignment":
            alignment = take("I")
        else:
            skip_value(vtype)
    infos = []
    for _ in range(n_tensors):
        name, n_dims = string(), take("I")
        dims = [take("Q") for _ in range(n_dims)]
        infos.append((name, dims, take("I"), take("Q")))
    data_start = (pos + alignment - 1) // alignment * alignment
    for name, dims, type_id, offset in infos:
        shape = tuple(reversed(dims))                      # NumPy order
        nbytes = bf.row_nbytes(type_id, shape[-1]) * int(np.prod(shape[:-1], dtype=np.int64))
        data = np.frombuffer(buf, np.uint8, nbytes, data_start + offset)
        yield name, bf.type_name(type_id), shape, data


def check_every_tensor(path):
    types_seen = set()
    for tensor_name, name, shape, data in gguf_tensors(path):
        types_seen.add(name)
        rows = data.reshape(-1, bf.row_nbytes(name, shape[-1]))
        for rs in row_slices(rows.shape[0]):
            part = rows[rs]
            want = gguf_dequantize(part, name).reshape(part.shape[0], shape[-1])
            for ks in KERNEL_SETS:
                _core.set_kernel_set(ks)
                got = bf.dequantize(part, name, (part.shape[0], shape[-1]))
                assert_same_bits(got, want, f"{tensor_name} ({name}, {ks})")
    return types_seen


def test_dequantize_every_gemma_tensor(gemma_path, restore_kernel_set):
    seen = check_every_tensor(gemma_path)
    assert {"Q8_0", "Q5_0", "Q4_K", "Q6_K", "F32"} <= seen


def test_dequantize_every_smollm2_tensor(smollm2_path, restore_kernel_set):
    seen = check_every_tensor(smollm2_path)
    assert {"Q4_1", "Q8_0", "F32"} <= seen


# ---- quantization against gguf-py and ggml --------------------------------------------

@pytest.mark.parametrize("name", GGUF_QUANT_TYPES + ["F16", "F32"])
def test_quantize_matches_gguf(name):
    x = edge_case_rows(np.random.default_rng([SEED, 3]), 1024)
    got = bf.quantize(x, name)
    with np.errstate(all="ignore"):
        if name == "F16":
            want = x.astype(np.float16).view(np.uint8)
        else:
            want = gguf_quants.quantize(x, gguf_type(name)).view(np.uint8)
    assert got.shape == x.shape[:-1] + (bf.row_nbytes(name, 1024),)
    np.testing.assert_array_equal(got, want.reshape(got.shape))


@pytest.fixture(scope="module")
def ggml():
    """libggml-base.so from llama-cpp-python, with the two entry points we use."""
    llama_cpp = pytest.importorskip("llama_cpp")
    path = os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so")
    if not os.path.exists(path):
        pytest.skip(f"{path} not found")
    lib = ctypes.CDLL(path)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.c_void_p]
    lib.quantize_row_q8_K_ref.restype = None
    lib.quantize_row_q8_K_ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    return lib


def ggml_quantize(lib, name, x):
    rows, n = x.shape
    out = np.zeros((rows, bf.row_nbytes(name, n)), np.uint8)
    x = np.ascontiguousarray(x, np.float32)
    if name == "Q8_K":   # activation format: not in ggml_quantize_chunk
        lib.quantize_row_q8_K_ref(x.ctypes.data, out.ctypes.data, x.size)
    else:
        written = lib.ggml_quantize_chunk(bf.type_id(name), x.ctypes.data, out.ctypes.data,
                                          0, rows, n, None)
        assert written == out.size
    return out


@pytest.mark.parametrize("name", GGML_QUANT_TYPES + ["Q8_K"])
def test_quantize_matches_ggml(ggml, name):
    rng = np.random.default_rng([SEED, 4, bf.type_id(name)])
    x = np.concatenate([edge_case_rows(rng, 1024),
                        rng.standard_normal((40, 1024)).astype(np.float32) * 0.02])
    got = bf.quantize(x, name)
    want = ggml_quantize(ggml, name, x)
    mismatched_rows = np.nonzero((got != want).any(axis=1))[0]
    assert mismatched_rows.size == 0, f"{name}: rows {mismatched_rows.tolist()} differ from ggml"


# ---- round trips ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(RMSE_MAX))
@pytest.mark.parametrize("shape", ROUND_TRIP_SHAPES)
def test_round_trip_error(name, shape):
    x = np.random.default_rng([SEED, 5, shape[0]]).standard_normal(shape).astype(np.float32)
    q = bf.quantize(x, name)
    y = bf.dequantize(q, name, x.shape)
    assert y.shape == x.shape
    assert rmse(y, x) <= RMSE_MAX[name], f"{name}: rmse {rmse(y, x):.5f}"


def test_round_trip_preserves_zero_rows_and_leaves_input_alone():
    x = np.zeros((3, 256), np.float32)
    x[1] = np.linspace(-2, 2, 256)
    copy = x.copy()
    for name in bf.QUANTIZABLE:
        y = bf.dequantize(bf.quantize(x, name), name, x.shape)
        assert not np.any(y[[0, 2]]), name
        np.testing.assert_array_equal(x, copy)


def test_quantize_accepts_other_float_dtypes_and_layouts():
    x = np.random.default_rng([SEED, 6]).standard_normal((4, 64)).astype(np.float32)
    want = bf.quantize(x, "Q8_0")
    np.testing.assert_array_equal(bf.quantize(x.astype(np.float64), "Q8_0"), want)
    np.testing.assert_array_equal(bf.quantize(np.asfortranarray(x), "Q8_0"), want)
    np.testing.assert_array_equal(bf.quantize(x.astype(">f4"), "Q8_0"), want)
    unaligned = np.frombuffer(b"\0" + x.tobytes(), np.float32, offset=1).reshape(4, 64)
    np.testing.assert_array_equal(bf.quantize(unaligned, "Q8_0"), want)
    assert bf.quantize(np.zeros((0, 256), np.float32), "Q4_K").shape == (0, 144)


def test_conversions_run_in_parallel_threads():
    """The GIL is released while converting; concurrent calls give the same bytes."""
    from concurrent.futures import ThreadPoolExecutor

    x = np.random.default_rng([SEED, 9]).standard_normal((64, 1024)).astype(np.float32)
    want_q = bf.quantize(x, "Q4_K")
    want_y = bf.dequantize(want_q, "Q4_K", x.shape)

    def work(_):
        q = bf.quantize(x, "Q4_K")
        return q, bf.dequantize(q, "Q4_K", x.shape)

    with ThreadPoolExecutor(4) as pool:
        for q, y in pool.map(work, range(8)):
            np.testing.assert_array_equal(q, want_q)
            assert_same_bits(y, want_y, "threaded Q4_K")


# ---- buffers -------------------------------------------------------------------------

def test_dequantize_accepts_any_buffer(tmp_path):
    x = np.random.default_rng([SEED, 7]).standard_normal((2, 256)).astype(np.float32)
    q = bf.quantize(x, "Q6_K")
    want = bf.dequantize(q, "Q6_K", (2, 256))
    raw = q.tobytes()
    for data in (raw, bytearray(raw), memoryview(raw), np.frombuffer(raw, np.uint8)):
        np.testing.assert_array_equal(bf.dequantize(data, "Q6_K", (2, 256)), want)
    # unaligned start (blocks in files sit at any offset) and an mmap slice
    shifted = np.frombuffer(b"\0" + raw, np.uint8)[1:]
    np.testing.assert_array_equal(bf.dequantize(shifted, "Q6_K", (2, 256)), want)
    path = tmp_path / "blocks.bin"
    path.write_bytes(b"xyz" + raw)
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        view = memoryview(mm)[3:]
        try:
            np.testing.assert_array_equal(bf.dequantize(view, "Q6_K", (2, 256)), want)
        finally:
            view.release()
    np.testing.assert_array_equal(_core.dequantize(raw, 14, 512), want.reshape(-1))


# ---- bad input -----------------------------------------------------------------------

def test_dequantize_rejects_bad_input():
    data = bytes(18 * 4)
    with pytest.raises(ValueError, match=r"needs 72 bytes, got 71"):
        bf.dequantize(data[:-1], "Q4_0", (4, 32))
    with pytest.raises(ValueError, match=r"row length 48 is not a multiple of Q4_0's block size 32"):
        bf.dequantize(data, "Q4_0", (48,))
    with pytest.raises(ValueError, match=r"unknown tensor type"):
        bf.dequantize(data, "Q4_9", (128,))
    with pytest.raises(ValueError, match=r"unknown tensor type"):
        bf.dequantize(data, 4, (128,))           # id 4 was Q4_2, removed
    with pytest.raises(ValueError, match=r"at least one dimension"):
        bf.dequantize(data, "Q4_0", ())
    with pytest.raises(ValueError, match=r"C-contiguous"):
        bf.dequantize(np.zeros((4, 36), np.uint8)[:, ::2], "Q4_0", (4, 32))
    with pytest.raises(gemma_accel.Error, match=r"cannot dequantize type IQ2_XXS"):
        bf.dequantize(bytes(66), "IQ2_XXS", (256,))
    # the _core layer checks on its own
    with pytest.raises(ValueError, match=r"need 72 bytes, got 73"):
        _core.dequantize(data + b"\0", 2, 128)
    with pytest.raises(ValueError, match=r"not a multiple of Q4_0's block size"):
        _core.dequantize(data, 2, 100)
    with pytest.raises(ValueError, match=r"unknown tensor type id 99"):
        _core.dequantize(data, 99, 128)
    with pytest.raises(ValueError, match=r">= 0"):
        _core.dequantize(data, 2, -32)
    with pytest.raises(TypeError):
        _core.dequantize([0] * 72, 2, 128)


def test_quantize_rejects_bad_input():
    x = np.ones((2, 64), np.float32)
    with pytest.raises(ValueError, match=r"row length 64 is not a multiple of Q4_K's block size 256"):
        bf.quantize(x, "Q4_K")
    with pytest.raises(gemma_accel.Error, match=r"cannot quantize to type Q2_K"):
        bf.quantize(np.ones(256, np.float32), "Q2_K")
    with pytest.raises(ValueError, match=r"floating-point"):
        bf.quantize(np.ones((2, 64), np.int32), "Q8_0")
    with pytest.raises(ValueError, match=r"floating-point"):
        bf.quantize([[True] * 32], "Q8_0")
    with pytest.raises(ValueError, match=r"at least one dimension"):
        bf.quantize(np.float32(1.0), "F32")
    with pytest.raises(ValueError, match=r"unknown tensor type"):
        bf.quantize(x, "nope")
    with pytest.raises(ValueError, match=r"unknown tensor type"):
        bf.quantize(x, True)
    # the _core layer checks on its own
    with pytest.raises(ValueError, match=r"native float32"):
        _core.quantize(np.ones(64), 8)
    with pytest.raises(ValueError, match=r"at least one dimension"):
        _core.quantize(np.array(1.0, np.float32), 0)
    with pytest.raises(ValueError, match=r"C-contiguous"):
        _core.quantize(np.ones((64, 64), np.float32)[:, ::2], 8)
    with pytest.raises(ValueError, match=r"4-byte aligned"):
        _core.quantize(np.frombuffer(bytes(129), np.float32, offset=1), 8)
    with pytest.raises(ValueError, match=r"not a multiple of Q8_0's block size"):
        _core.quantize(np.ones(33, np.float32), 8)
    with pytest.raises(ValueError, match=r"unknown tensor type id -1"):
        _core.quantize(x, -1)


def test_size_helpers_reject_bad_counts():
    assert bf.row_nbytes("Q4_K", 0) == 0
    with pytest.raises(ValueError, match=r"block size 256"):
        bf.row_nbytes("Q4_K", 100)
    with pytest.raises(ValueError, match=r"unknown tensor type"):
        bf.type_name(1000)
    with pytest.raises(ValueError, match=r"unknown tensor type"):
        bf.type_id(object())
    with pytest.raises(TypeError):
        _core.type_info(1.5)
