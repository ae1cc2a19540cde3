"""Malformed, truncated and hostile GGUF files: each must raise ModelFormatError
naming the file and the problem - never crash, hang or allocate wildly.

Files are built byte by byte here (not with GGUFWriter) so that every field
can be made wrong.
"""
import random
import struct

import pytest

import gemma_accel
from gemma_accel import GGUFFile, ModelFormatError, _core

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
F32_T, Q8_0_T, Q4_K_T = 0, 8, 12


def gstr(s) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload: bytes):
    return (key, vtype, payload)


def tensor(name, ne, ttype=F32_T, offset=0):
    return (name, ne, ttype, offset)


def build(kvs=(), tensors=(), *, magic=b"GGUF", version=3, n_tensors=None, n_kv=None,
          alignment=32, data=None) -> bytes:
    """A GGUF file from raw parts; data defaults to zeros covering every tensor."""
    out = magic + struct.pack("<IQQ", version, len(tensors) if n_tensors is None else n_tensors,
                              len(kvs) if n_kv is None else n_kv)
    for key, vtype, payload in kvs:
        out += gstr(key) + struct.pack("<I", vtype) + payload
    end = 0
    for name, ne, ttype, offset in tensors:
        out += gstr(name) + struct.pack(f"<I{len(ne)}QIQ", len(ne), *ne, ttype, offset)
        if ttype == F32_T and len(ne) <= 4 and all(0 < d < 2**20 for d in ne):
            n = 4
            for d in ne:
                n *= d
            end = max(end, offset + n)
    out += b"\0" * (-len(out) % alignment)
    return out + (bytes(end) if data is None else data)


def valid_file() -> bytes:
    """A small valid file touching every section: scalars, a string, arrays, two tensors."""
    return build(
        [kv("general.architecture", STRING, gstr("gemma3")),
         kv("a.u32", U32, struct.pack("<I", 7)),
         kv("a.f32", F32, struct.pack("<f", 0.5)),
         kv("a.tokens", ARRAY, struct.pack("<IQ", STRING, 3) + gstr("a") + gstr("bc") + gstr("")),
         kv("a.scores", ARRAY, struct.pack("<IQ", F32, 2) + struct.pack("<2f", 1, 2))],
        [tensor("w", [32, 2], Q8_0_T, 0), tensor("b", [3], F32_T, 96)],
        data=bytes(68) + bytes(28) + struct.pack("<3f", 1, 2, 3))


def expect(tmp_path, blob: bytes, match: str):
    path = tmp_path / "hostile.gguf"
    path.write_bytes(blob)
    with pytest.raises(ModelFormatError, match=match) as info:
        GGUFFile(path)
    assert str(path) in str(info.value)


def test_valid_file_parses(tmp_path):
    path = tmp_path / "ok.gguf"
    path.write_bytes(valid_file())
    with GGUFFile(path) as f:
        assert f.metadata["a.tokens"] == ["a", "bc", ""]
        assert list(f.raw("b").view("<f4")) == [1, 2, 3]


def test_error_classes():
    assert issubclass(ModelFormatError, ValueError)
    assert issubclass(ModelFormatError, gemma_accel.Error)


# ------------------------------------------------------------ magic and version

@pytest.mark.parametrize("blob, match", [
    (b"", "the file is empty"),
    (b"GG", "truncated at offset 0 reading magic"),
    (b"\x00\x01\x02", "magic is 00 01 02"),
    (b"GGML" + bytes(20), "not a GGUF file: magic is 'GGML'"),
    (b"<!DOCTYPE html><html><body>404</body></html>", "looks like an HTML page"),
    (b"\n  <html>", "looks like an HTML page"),
])
def test_bad_magic(tmp_path, blob, match):
    expect(tmp_path, blob, match)


@pytest.mark.parametrize("version", [0, 1, 4, 77])
def test_unsupported_version(tmp_path, version):
    expect(tmp_path, build(version=version), f"unsupported GGUF version {version}")


def test_big_endian(tmp_path):
    blob = b"GGUF" + struct.pack(">IQQ", 3, 0, 0)
    expect(tmp_path, blob, "big-endian")


def test_version_2_and_3_parse():
    for version in (2, 3):
        assert _core.gguf_parse(build(version=version), "v")["version"] == version


# ------------------------------------------------------------ truncation

def test_every_truncation_raises():
    blob = valid_file()
    for n in range(len(blob)):
        with pytest.raises(ModelFormatError):
            _core.gguf_parse(blob[:n], "cut.gguf")
    _core.gguf_parse(blob, "whole.gguf")


def test_truncated_tensor_data(tmp_path):
    expect(tmp_path, valid_file()[:-1], r"tensor 'b': its 12 bytes .* run past the end .* truncated")


def test_tensor_offset_past_end(tmp_path):
    expect(tmp_path, build(tensors=[tensor("t", [4], F32_T, 2**40)], data=bytes(16)), "past the end")


def test_tensor_bytes_past_end(tmp_path):
    expect(tmp_path, build(tensors=[tensor("t", [2**30], F32_T, 0)], data=bytes(64)),
           r"its 4294967296 bytes .* past the end")


def test_offset_at_uint64_max(tmp_path):
    expect(tmp_path, build(tensors=[tensor("t", [32], Q8_0_T, 2**64 - 32)], data=bytes(64)), "past the end")


# ------------------------------------------------------------ tensor layout

def test_unaligned_offset(tmp_path):
    expect(tmp_path, build(tensors=[tensor("t", [4], F32_T, 4)], data=bytes(64)),
           "offset 4 is not a multiple of the alignment 32")


def test_gap_between_tensors(tmp_path):
    tensors = [tensor("a", [4], F32_T, 0), tensor("b", [4], F32_T, 64)]
    expect(tmp_path, build(tensors=tensors, data=bytes(128)), "tensor 'b': data offset 64, expected 32")


def test_overlapping_tensors(tmp_path):
    tensors = [tensor("a", [16], F32_T, 0), tensor("b", [4], F32_T, 32)]
    expect(tmp_path, build(tensors=tensors, data=bytes(128)), "tensor 'b': data offset 32, expected 64")


# ------------------------------------------------------------ counts and shapes

def test_absurd_tensor_count(tmp_path):
    expect(tmp_path, build(n_tensors=2**62), "absurd tensor count 4611686018427387904")


def test_absurd_kv_count(tmp_path):
    expect(tmp_path, build(n_kv=2**62), "absurd metadata key/value count")


def test_claimed_count_just_above_what_fits(tmp_path):
    expect(tmp_path, build(n_kv=1000, data=bytes(100)), "truncated|absurd")


def test_too_many_dims(tmp_path):
    expect(tmp_path, build(tensors=[tensor("t", [1, 1, 1, 1, 1])]), "tensor 't' has 5 dimensions")


def test_zero_dim(tmp_path):
    expect(tmp_path, build(tensors=[tensor("t", [4, 0])]), r"zero dimension \(ne\[1\] = 0\)")


@pytest.mark.parametrize("ne", [[2**32, 2**32], [2**63], [2**62, 2], [2**21] * 4])
def test_element_count_overflow(tmp_path, ne):
    expect(tmp_path, build(tensors=[tensor("t", ne)]), "element count overflows int64")


def test_byte_size_overflow(tmp_path):
    # 2**62 F32 elements fit int64, but their 2**64 bytes do not fit uint64.
    expect(tmp_path, build(tensors=[tensor("t", [2**62])]), "tensor 't': byte size of .* overflows")


@pytest.mark.parametrize("type_id", [4, 31, 40, 2**31, 2**32 - 1])
def test_unknown_type(tmp_path, type_id):
    expect(tmp_path, build(tensors=[tensor("t", [256], type_id)]), f"unknown type id {type_id}")


def test_row_not_multiple_of_block(tmp_path):
    expect(tmp_path, build(tensors=[tensor("t", [100, 2], Q4_K_T)]),
           "ne\\[0\\] = 100 is not a multiple of Q4_K's block size 256")


# ------------------------------------------------------------ strings and arrays

def test_key_length_past_end(tmp_path):
    blob = build(n_kv=1, alignment=1) + struct.pack("<Q", 2**40) + b"key" + bytes(20)
    expect(tmp_path, blob, "truncated at offset 32 reading key of metadata entry 0 \\(needs 1099511627776 bytes")


def test_string_value_past_end(tmp_path):
    expect(tmp_path, build([kv("s", STRING, struct.pack("<Q", 2**63) + b"abc")]),
           "truncated .* reading value of key 's'")


def test_array_count_past_end(tmp_path):
    expect(tmp_path, build([kv("a", ARRAY, struct.pack("<IQ", U32, 2**40) + bytes(8))]),
           "value of key 'a': array count 1099511627776 runs past the end")


def test_string_array_count_past_end(tmp_path):
    expect(tmp_path, build([kv("a", ARRAY, struct.pack("<IQ", STRING, 2**61))]), "array count")


def nested(depth: int) -> bytes:
    payload = struct.pack("<IQ", U8, 1) + b"\x07"
    for _ in range(depth - 1):
        payload = struct.pack("<IQ", ARRAY, 1) + payload
    return payload


def test_nested_array_depth_limit(tmp_path):
    ok = _core.gguf_parse(build([kv("n", ARRAY, nested(8))]), "ok")
    assert ok["metadata_types"]["n"] == "ARRAY[" * 8 + "UINT8" + "]" * 8
    expect(tmp_path, build([kv("n", ARRAY, nested(9))]), "nested more than 8 deep")


def test_unknown_value_type(tmp_path):
    expect(tmp_path, build([kv("k", 13, b"")]), "value of key 'k' has unknown value type 13")


def test_unknown_array_element_type(tmp_path):
    expect(tmp_path, build([kv("k", ARRAY, struct.pack("<IQ", 99, 0))]), "unknown element type 99")


@pytest.mark.parametrize("key", [b"\xff\xfe", b"ok\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"ab\xe2\x82"])
def test_non_utf8_key(tmp_path, key):
    expect(tmp_path, build([kv(key, U8, b"\x01")]), "metadata key 0 is not valid UTF-8")


def test_non_utf8_tensor_name(tmp_path):
    expect(tmp_path, build(tensors=[tensor(b"w\x80", [4])]), "tensor name 0 is not valid UTF-8")


def test_non_utf8_string_value_is_kept():
    blob = build([kv("s", STRING, gstr(b"a\xffb"))])
    assert _core.gguf_parse(blob, "x")["metadata"]["s"].encode("utf-8", "surrogateescape") == b"a\xffb"


def test_duplicate_key(tmp_path):
    expect(tmp_path, build([kv("a", U8, b"\x01"), kv("b", U8, b"\x01"), kv("a", U8, b"\x02")]),
           "duplicate metadata key 'a'")


def test_duplicate_tensor_name(tmp_path):
    tensors = [tensor("w", [8], F32_T, 0), tensor("w", [8], F32_T, 32)]
    expect(tmp_path, build(tensors=tensors), "duplicate tensor name 'w'")


def test_tensor_name_too_long(tmp_path):
    expect(tmp_path, build(tensors=[tensor("x" * 64, [4])]), "name is 64 bytes long; at most 63")


# ------------------------------------------------------------ alignment

@pytest.mark.parametrize("alignment", [0, 3, 48, 2**31 + 1])
def test_bad_alignment(tmp_path, alignment):
    expect(tmp_path, build([kv("general.alignment", U32, struct.pack("<I", alignment))]),
           f"general.alignment is {alignment}; it must be a power of 2")


def test_alignment_wrong_type(tmp_path):
    expect(tmp_path, build([kv("general.alignment", U64, struct.pack("<Q", 32))]),
           "general.alignment has type UINT64, expected UINT32")


def test_custom_alignment():
    blob = build([kv("general.alignment", U32, struct.pack("<I", 256))],
                 [tensor("a", [4], F32_T, 0), tensor("b", [4], F32_T, 256)], alignment=256)
    parsed = _core.gguf_parse(blob, "x")
    assert parsed["alignment"] == 256 and parsed["data_offset"] == 256
    assert [t[3] for t in parsed["tensors"]] == [256, 512]


# ------------------------------------------------------------ fuzz

def test_random_byte_flips():
    """Flip 1-4 bytes of the header 2000 times: success or ModelFormatError only."""
    blob = valid_file()
    header_end = _core.gguf_parse(blob, "x")["data_offset"]
    rng = random.Random(1234)
    outcomes = {"ok": 0, "rejected": 0}
    for _ in range(2000):
        mutated = bytearray(blob)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(header_end)] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)])
        try:
            _core.gguf_parse(bytes(mutated), "fuzz.gguf")
            outcomes["ok"] += 1
        except ModelFormatError:
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 1000
