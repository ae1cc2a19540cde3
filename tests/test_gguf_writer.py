"""GGUFWriter: files read back by our GGUFFile and by gguf-py's GGUFReader,
type inference, misuse errors, streaming without copies, and a lossless copy
of the real Gemma file."""
import filecmp
import io

import numpy as np
import pytest
from gguf import GGUFReader

from gemma_accel import GGUFFile, GGUFWriter, _core

SCALARS = [  # (type, value) - one per scalar type, values at the edges of the range
    ("UINT8", 255), ("INT8", -128), ("UINT16", 65535), ("INT16", -32768),
    ("UINT32", 2**32 - 1), ("INT32", -2**31), ("FLOAT32", 0.25), ("BOOL", True),
    ("STRING", "héllo wörld ✓"), ("UINT64", 2**64 - 1), ("INT64", -2**63), ("FLOAT64", 1e300),
]


def tensors():
    rng = np.random.default_rng(0)
    q8 = rng.integers(0, 256, size=3 * 2 * 34, dtype=np.uint8)  # Q8_0 blocks: 3 rows x 64 elements
    return [("f32", (3, 5), "F32", rng.standard_normal((3, 5)).astype(np.float32)),
            ("f16", (7,), "F16", rng.standard_normal(7).astype(np.float16)),
            ("q8", (3, 64), "Q8_0", q8),
            ("scalar", (), "F32", np.float32(2.5).reshape(()))]


def write_sample(path, alignment=64):
    with GGUFWriter(path, alignment=alignment) as w:
        for vtype, value in SCALARS:
            w.add_metadata(f"s.{vtype.lower()}", value, vtype)
        w.add_metadata("a.ints", [1, 2, 3])
        w.add_metadata("a.neg", [-1, 5])
        w.add_metadata("a.floats", [0.5, 1])
        w.add_metadata("a.strings", ["a", "", "ü"])
        w.add_metadata("a.bools", [True, False])
        w.add_metadata("a.i16", np.array([-3, 4], dtype=np.int16))
        w.add_metadata("a.empty", [], "ARRAY[INT32]")
        w.add_metadata("a.nested", [[1, 2], [3]], "ARRAY[ARRAY[INT32]]")
        for name, shape, ttype, _ in tensors():
            w.add_tensor_info(name, shape, ttype)
        w.write_header()
        for name, _, _, data in tensors():
            w.write_tensor_data(name, data)


def test_round_trip_with_both_readers(tmp_path):
    path = tmp_path / "sample.gguf"
    write_sample(path)
    f, ref = GGUFFile(path), GGUFReader(path)
    assert f.alignment == 64 and f.metadata["general.alignment"] == 64
    for vtype, value in SCALARS:
        key = f"s.{vtype.lower()}"
        assert f.metadata_types[key] == vtype
        got = f.metadata[key]
        assert got == value and type(got) is type(value), key
        assert ref.fields[key].contents() == value, key
    expected = {"a.ints": ("ARRAY[UINT32]", [1, 2, 3]), "a.neg": ("ARRAY[INT32]", [-1, 5]),
                "a.floats": ("ARRAY[FLOAT32]", [0.5, 1.0]), "a.strings": ("ARRAY[STRING]", ["a", "", "ü"]),
                "a.bools": ("ARRAY[BOOL]", [True, False]), "a.i16": ("ARRAY[INT16]", [-3, 4]),
                "a.empty": ("ARRAY[INT32]", [])}
    for key, (vtype, value) in expected.items():
        assert f.metadata_types[key] == vtype, key
        assert list(f.metadata[key]) == value and ref.fields[key].contents() == value, key
    assert f.metadata_types["a.nested"] == "ARRAY[ARRAY[INT32]]"
    assert [list(x) for x in f.metadata["a.nested"]] == [[1, 2], [3]]
    for name, shape, ttype, data in tensors():
        info = f.tensors[name]
        assert (info.shape, info.type, info.offset % 64) == (shape, ttype, 0)
        assert f.raw(name).tobytes() == np.ascontiguousarray(data).tobytes()
        t = next(t for t in ref.tensors if t.name == name)
        assert (t.data_offset, t.n_bytes, t.tensor_type.name) == (info.offset, info.nbytes, ttype)
        assert t.data.tobytes() == np.ascontiguousarray(data).tobytes()
    f.close()


@pytest.mark.parametrize("value, vtype", [
    (True, "BOOL"), (0, "UINT32"), (2**32 - 1, "UINT32"), (2**32, "UINT64"), (-1, "INT32"),
    (-2**31 - 1, "INT64"), (1.5, "FLOAT32"), ("x", "STRING"), (np.float64(2.0), "FLOAT64"),
    (np.int8(-1), "INT8"), ([1, 2**40], "ARRAY[UINT64]"), ([1, -2], "ARRAY[INT32]"),
    ([1, 2.5], "ARRAY[FLOAT32]"), ([[1], ["a"]], "ARRAY[ARRAY[UINT32]]"),
    (np.zeros(3, np.uint16), "ARRAY[UINT16]"), (np.ones(2, ">f8"), "ARRAY[FLOAT64]"),
])
def test_type_inference(tmp_path, value, vtype):
    path = tmp_path / "infer.gguf"
    with GGUFWriter(path) as w:
        w.add_metadata("k", value)
    f = GGUFFile(path)
    assert f.metadata_types["k"] == vtype
    if vtype.startswith("ARRAY[ARRAY"):
        assert [list(x) for x in f.metadata["k"]] == [[1], ["a"]]
    else:
        assert np.array_equal(np.asarray(f.metadata["k"], dtype=object), np.asarray(value, dtype=object))


def test_lossless_non_utf8_string(tmp_path):
    path = tmp_path / "bytes.gguf"
    with GGUFWriter(path) as w:
        w.add_metadata("raw", b"a\xffb")
    value = GGUFFile(path).metadata["raw"]
    copy = tmp_path / "copy.gguf"
    with GGUFWriter(copy) as w:
        w.add_metadata("raw", value, "STRING")
    assert filecmp.cmp(path, copy, shallow=False)


@pytest.mark.parametrize("call, match", [
    (lambda w: w.add_metadata("k", 256, "UINT8"), "cannot be stored as UINT8"),
    (lambda w: w.add_metadata("k", [1, 300], "ARRAY[UINT8]"), "do not fit"),
    (lambda w: w.add_metadata("k", 1, "UINT128"), "unknown GGUF value type"),
    (lambda w: w.add_metadata("k", []), "empty array"),
    (lambda w: w.add_metadata("k", [1, "a"]), "mixed kinds"),
    (lambda w: w.add_metadata("k", 2**64), "do not fit"),
    (lambda w: w.add_metadata("general.alignment", 48), "power of 2"),
    (lambda w: w.add_metadata("general.alignment", 64, "UINT64"), "must be UINT32"),
    (lambda w: w.add_tensor_info("t", (3, 100), "Q4_K"), "not a multiple of Q4_K's block size 256"),
    (lambda w: w.add_tensor_info("t", (4, 0), "F32"), "all > 0"),
    (lambda w: w.add_tensor_info("t", (1,) * 5, "F32"), "at most 4"),
    (lambda w: w.add_tensor_info("t", (4,), "Q9_X"), "unknown ggml type"),
    (lambda w: w.add_tensor_info("t", (4,), "F32", nbytes=8), "8 bytes given"),
    (lambda w: w.add_tensor_info("x" * 64, (4,), "F32"), "at most 63"),
])
def test_bad_declarations(call, match):
    w = GGUFWriter(io.BytesIO())
    with pytest.raises((ValueError, TypeError), match=match):
        call(w)


def test_duplicates_rejected():
    w = GGUFWriter(io.BytesIO())
    w.add_metadata("k", 1)
    w.add_tensor_info("t", (4,), "F32")
    with pytest.raises(ValueError, match="duplicate metadata key"):
        w.add_metadata("k", 2)
    with pytest.raises(ValueError, match="duplicate tensor name"):
        w.add_tensor_info("t", (4,), "F32")


def test_order_size_and_completeness_enforced(tmp_path):
    w = GGUFWriter(tmp_path / "x.gguf")
    w.add_tensor_info("a", (4,), "F32")
    w.add_tensor_info("b", (4,), "F32")
    with pytest.raises(ValueError, match="write_header"):
        w.write_tensor_data("a", np.zeros(4, np.float32))
    w.write_header()
    with pytest.raises(ValueError, match="already written"):
        w.add_metadata("late", 1)
    with pytest.raises(ValueError, match="expected 'a', got 'b'"):
        w.write_tensor_data("b", np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="got 8 bytes"):
        w.write_tensor_data("a", np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        w.write_tensor_data("a", np.zeros(8, np.float32)[::2])
    w.write_tensor_data("a", np.zeros(4, np.float32))
    with pytest.raises(ValueError, match=r"never written: \['b'\]"):
        w.close()


def test_exception_in_with_block_is_not_masked(tmp_path):
    with pytest.raises(KeyError, match="mine"):
        with GGUFWriter(tmp_path / "x.gguf") as w:
            w.add_tensor_info("a", (4,), "F32")
            raise KeyError("mine")


class RecordingFile(io.BytesIO):
    def __init__(self):
        super().__init__()
        self.chunks = []

    def write(self, data):
        self.chunks.append(data)
        return super().write(data)


def test_tensor_data_written_without_copy():
    data = np.arange(64, dtype=np.float32).reshape(8, 8)
    out = RecordingFile()
    with GGUFWriter(out) as w:
        w.add_tensor_info("t", data.shape, "F32")
        w.write_header()
        w.write_tensor_data("t", data)
    views = [c for c in out.chunks if isinstance(c, memoryview)]
    assert len(views) == 1 and views[0].obj is data
    assert not out.closed  # a caller's file object is left open
    blob = out.getvalue()
    (name, shape, _, offset, nbytes), = _core.gguf_parse(blob, "mem")["tensors"]
    assert (name, shape) == ("t", (8, 8)) and blob[offset:offset + nbytes] == data.tobytes()


def test_copy_of_gemma_is_identical(gemma_path, tmp_path):
    """Metadata (with its exact types) and tensors streamed through the writer:
    the copy parses identically and, laid out the same way, is the same bytes."""
    copy = tmp_path / "copy.gguf"
    with GGUFFile(gemma_path) as src, GGUFWriter(copy, alignment=src.alignment) as w:
        for key, value in src.metadata.items():
            w.add_metadata(key, value, src.metadata_types[key])
        for t in src.tensors.values():
            w.add_tensor_info(t.name, t.shape, t.type, t.nbytes)
        w.write_header()
        for t in src.tensors.values():
            w.write_tensor_data(t.name, src.raw(t.name))
    with GGUFFile(gemma_path) as a, GGUFFile(copy) as b:
        assert a.metadata_types == b.metadata_types and a.tensors == b.tensors
        for key, value in a.metadata.items():
            assert np.array_equal(value, b.metadata[key]) if isinstance(value, np.ndarray) \
                else value == b.metadata[key], key
    assert filecmp.cmp(gemma_path, copy, shallow=False)
