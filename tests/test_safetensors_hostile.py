"""Malformed and hostile safetensors files: each must raise ModelFormatError
naming the file and the problem, never crash, never raise anything else."""
import math
import os
import random
import struct
import sys

import numpy as np
import pytest

import gemma_accel
from gemma_accel import ModelFormatError, SafetensorsFile

sys.path.insert(0, os.path.dirname(__file__))
from st_helpers import file_bytes, tensors_file, write  # noqa: E402

# bytes per element of every safetensors dtype (the format's own table)
ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2,
            "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8, "C64": 8}

NAME = "bad.safetensors"


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def expect_error(tmp_path, content: bytes, match: str):
    path = write(tmp_path / NAME, content)
    with pytest.raises(ModelFormatError, match=match) as exc:
        SafetensorsFile(path)
    assert str(exc.value).startswith(NAME + ": "), str(exc.value)
    return str(exc.value)


def test_model_format_error_is_a_value_error():
    assert issubclass(ModelFormatError, ValueError) and issubclass(ModelFormatError, gemma_accel.Error)


# ---- header framing -------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"\x01", b"\x00" * 7])
def test_file_shorter_than_length_prefix(tmp_path, content):
    expect_error(tmp_path, content, "file too small")


def test_header_length_past_end(tmp_path):
    content = struct.pack("<Q", 1000) + b"{}"
    expect_error(tmp_path, content, r"header length 1000 past end of file \(size 10\)")


@pytest.mark.parametrize("n", [2**63, 2**64 - 1, 2**64 - 8])
def test_header_length_huge(tmp_path, n):
    expect_error(tmp_path, struct.pack("<Q", n) + b"{}", f"header length {n} past end of file")


def test_header_length_over_reference_limit(tmp_path):
    """100 MB is the reference's cap; a sparse file makes this cheap."""
    path = tmp_path / NAME
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", 100_000_001))
        fh.truncate(8 + 100_000_001)
    with pytest.raises(ModelFormatError, match="header length 100000001 exceeds the 100000000-byte limit"):
        SafetensorsFile(path)


def test_truncated_header(tmp_path):
    full = tensors_file([("w", "F32", (2,), b"\0" * 8)])
    n = struct.unpack("<Q", full[:8])[0]
    expect_error(tmp_path, struct.pack("<Q", n - 5) + full[8:8 + n - 5], "invalid JSON at byte")


@pytest.mark.parametrize("header,match", [
    ("[]", "header is not a JSON object"),
    ("[{\"w\": 1}]", "header is not a JSON object"),
    ("42", "header is not a JSON object"),
    ("\"str\"", "header is not a JSON object"),
    ("null", "header is not a JSON object"),
    ("", "invalid JSON at byte 0: expected a JSON value, got end of header"),
    ("not json", "invalid JSON at byte 0"),
    ("{} {}", "invalid JSON at byte 3: expected end of header"),
    ("{}\0", "invalid JSON at byte 2"),
])
def test_header_not_an_object(tmp_path, header, match):
    expect_error(tmp_path, file_bytes(header), match)


def test_header_padded_with_spaces_is_fine(tmp_path):
    path = write(tmp_path / NAME, file_bytes("  \n{}\t   "))
    with SafetensorsFile(path) as f:
        assert len(f) == 0


@pytest.mark.parametrize("raw", [b'{"\xff": 1}', b'{"a": "\xc0\xaf"}', b'{"\xed\xa0\x80": 1}',
                                 b'{"a": "\xf4\x90\x80\x80"}', b'{"a": "\xe2\x82"}', b"{\xff}"])
def test_header_not_utf8(tmp_path, raw):
    expect_error(tmp_path, file_bytes(raw), "header is not valid UTF-8")


# ---- strict JSON ------------------------------------------------------------------------

@pytest.mark.parametrize("header,match", [
    ('{"a": 1,}', "expected a string key"),
    ('{"a": [1,]}', "expected a JSON value"),
    ('{"a": NaN}', "expected a JSON value"),
    ('{"a": 01}', "expected ',' or '}'"),
    ('{"a": 1.}', "digit after '.'"),
    ('{"a": 1e}', "digit in the exponent"),
    ('{"a": -}', "expected a digit"),
    ('{"a": tru}', "expected a JSON value"),
    ("{'a': 1}", "expected a string key"),
    ('{"a" 1}', "expected ':'"),
    ('{"a": 1 // c\n}', "expected ',' or '}'"),
    ('{"a": "x', "unterminated string"),
    ('{"a": "x\\', "unterminated string"),
    ('{"a": "\\x"}', r"invalid escape \\x"),
    ('{"a": "\\u12"}', "hex digit|truncated"),
    ('{"a": "\\udc00"}', "lone low surrogate"),
    ('{"a": "\\ud800"}', "high surrogate"),
    ('{"a": "\\ud800\\u0041"}', "high surrogate"),
    ('{"a": "tab\there"}', "control byte 0x09"),
    ('{"a": 1, "a": 2}', 'duplicate key "a"'),
    ('{"__metadata__": {"k": "1", "k": "2"}}', 'duplicate key "k"'),
    ('{"a": {"x": 1', "expected ',' or '}'"),
])
def test_json_syntax_errors(tmp_path, header, match):
    expect_error(tmp_path, file_bytes(header), match)


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_nesting_does_not_blow_the_stack(tmp_path, opener):
    expect_error(tmp_path, file_bytes(opener * 100_000), "nesting deeper than 64 levels")


def test_nesting_at_the_limit_is_fine(tmp_path):
    header = '{"__x": ' + "[" * 63 + "]" * 63 + "}"  # 64 levels including the root object
    expect_error(tmp_path, file_bytes(header), 'tensor "__x": entry is an array|entry is an? array')


def test_huge_strings(tmp_path):
    name = "w" * 5_000_000
    content = tensors_file([(name, "U8", (1,), b"\x01")], metadata={"k": "v" * 3_000_000})
    with SafetensorsFile(write(tmp_path / "big.safetensors", content)) as f:
        assert list(f.keys()) == [name] and len(f.metadata["k"]) == 3_000_000
    expect_error(tmp_path, file_bytes('{"' + "x" * 1_000_000), "unterminated string")


# ---- tensor entries ---------------------------------------------------------------------

@pytest.mark.parametrize("header,data,match", [
    ({"w": entry(dtype="F7")}, 8, 'tensor "w": unknown dtype "F7"'),
    ({"w": entry(dtype="f32")}, 8, 'unknown dtype "f32"'),
    ({"w": entry(dtype=32)}, 8, "dtype is a number, not a string"),
    ({"w": [1]}, 8, 'tensor "w": entry is an array, not an object'),
    ({"w": {"shape": [2], "data_offsets": [0, 8]}}, 8, 'tensor "w": missing "dtype"'),
    ({"w": {"dtype": "F32", "data_offsets": [0, 8]}}, 8, 'missing "shape"'),
    ({"w": {"dtype": "F32", "shape": [2]}}, 8, 'missing "data_offsets"'),
    ({"w": entry(shape=(-2,))}, 8, r"shape\[0\] must be a non-negative integer below 2\*\*64, got -2"),
    ({"w": entry(shape=(2.0,))}, 8, r"shape\[0\] must be a non-negative integer below 2\*\*64, got 2.0"),
    ({"w": entry(shape=("2",))}, 8, r"shape\[0\] must be an integer, got a string"),
    ({"w": {"dtype": "F32", "shape": 2, "data_offsets": [0, 8]}}, 8, "shape is a number, not an array"),
    ({"w": entry(offsets=(-1, 7))}, 8, r"data_offsets\[0\] must be a non-negative integer below 2\*\*64, got -1"),
    ({"w": entry(offsets=(0, 8.0))}, 8, r"data_offsets\[1\] .* got 8.0"),
    ({"w": entry(offsets=(0, 2**64))}, 8, r"data_offsets\[1\] .* got 18446744073709551616"),
    ({"w": entry(offsets=(0, 8, 9))}, 8, r"data_offsets must be \[begin, end\]"),
    ({"w": entry(offsets=(8, 0))}, 8, r'tensor "w": reversed data_offsets \(begin 8 > end 0\)'),
    ({"w": entry(offsets=(0, 16))}, 8, r'tensor "w": data_offsets end 16 past end of data section \(8 bytes\)'),
    ({"w": entry(offsets=(0, 2**64 - 1))}, 8, "past end of data section"),
    ({"w": entry(shape=(3,))}, 8, r"shape/size mismatch: shape \[3\] of F32 needs 12 bytes, data_offsets span 8"),
    ({"w": entry(shape=(2**62, 2**62))}, 8, "shape product overflows 64 bits"),
    ({"w": entry(shape=(2**32, 2**31, 0))}, 8, "shape product overflows 64 bits"),
    ({"w": entry(shape=(2**62,))}, 8, "shape product overflows"),  # 2**62 * 4 bytes
    ({"__metadata__": {"k": 1}}, 0, r'__metadata__\["k"\] is a number, not a string'),
    ({"__metadata__": ["k"]}, 0, "__metadata__ is an array, not an object"),
])
def test_bad_tensor_entries(tmp_path, header, data, match):
    expect_error(tmp_path, file_bytes(header, b"\0" * data), match)


@pytest.mark.parametrize("header,data,match", [
    ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(4, 12))}, 12, 'tensors "a" and "b" overlap'),
    ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(0, 8))}, 8, "overlap"),
    ({"a": entry(shape=(0,), offsets=(4, 4)), "b": entry(offsets=(0, 8))}, 8, "overlap"),
    ({"a": entry(offsets=(0, 8)), "b": entry(offsets=(12, 20))}, 20,
     r'hole in data section: bytes 8..12 before tensor "b"'),
    ({"a": entry(offsets=(4, 12))}, 12, "hole in data section: bytes 0..4"),
    ({"a": entry(offsets=(0, 8))}, 9, r"data section has 1 trailing bytes that belong to no tensor"),
    ({}, 3, "data section has 3 trailing bytes"),
])
def test_tensors_must_tile_the_data_section(tmp_path, header, data, match):
    """The reference rejects holes, overlaps and trailing bytes (InvalidOffset,
    MetadataIncompleteBuffer); so do we."""
    expect_error(tmp_path, file_bytes(header, b"\0" * data), match)


def test_empty_tensors_may_share_offsets(tmp_path):
    header = {"e1": entry(shape=(0,), offsets=(0, 0)), "a": entry(offsets=(0, 8)),
              "e2": entry(shape=(2, 0), offsets=(8, 8)), "e3": entry(shape=(0,), offsets=(8, 8))}
    with SafetensorsFile(write(tmp_path / "ok.safetensors", file_bytes(header, b"\0" * 8))) as f:
        assert f.array("e2").shape == (2, 0) and f.dequantize("a").tolist() == [0.0, 0.0]


def test_metadata_null_is_absent(tmp_path):
    with SafetensorsFile(write(tmp_path / "ok.safetensors", file_bytes('{"__metadata__": null}'))) as f:
        assert f.metadata == {}


# ---- fuzz ---------------------------------------------------------------------------------

def valid_small_file() -> bytes:
    rng = np.random.default_rng(7)
    return tensors_file([
        ("model.norm.weight", "BF16", (4,), rng.integers(0, 1 << 16, 4, dtype=np.uint16).tobytes()),
        ("model.embed.weight", "F16", (2, 3), rng.standard_normal(6).astype(np.float16).tobytes()),
        ("ids", "I32", (3,), np.arange(3, dtype=np.int32).tobytes()),
        ("scalar", "F32", (), np.float32(1.5).tobytes()),
    ], metadata={"format": "pt", "\u00e9": "x"})


def mutate(rng: random.Random, good: bytes) -> bytes:
    data = bytearray(good)
    kind = rng.randrange(4)
    if kind == 0:  # flip random bits
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # truncate
        data = data[:rng.randrange(len(data))]
    elif kind == 2:  # overwrite a header byte with a JSON-significant one
        n = struct.unpack("<Q", good[:8])[0]
        data[8 + rng.randrange(n)] = rng.choice(b'{}[]",:0123456789-.eE\\u \x00\xff')
    else:  # corrupt the length prefix
        data[rng.randrange(8)] = rng.randrange(256)
    return bytes(data)


def test_fuzz_flips_and_truncations(tmp_path):
    good = valid_small_file()
    path = tmp_path / NAME
    rng = random.Random(1234)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(2000):
        path.write_bytes(mutate(rng, good))
        try:
            with SafetensorsFile(path) as f:
                for name, info in f.tensors.items():  # a file that parses must be fully readable
                    assert f.raw(name).nbytes == info.nbytes
                    f.array(name)
                    if info.dtype in ("F32", "F16", "BF16"):
                        f.dequantize(name)
            outcomes["ok"] += 1
        except ModelFormatError as e:
            assert str(e).startswith(NAME + ": ")
            outcomes["error"] += 1
    assert outcomes["error"] > 1000 and outcomes["ok"] > 0, outcomes


def test_fuzz_parser_in_memory():
    """The C parser straight on bytes objects: many more cases, no files."""
    good = valid_small_file()
    rng = random.Random(99)
    outcomes = {"ok": 0, "error": 0}
    for _ in range(20000):
        data = mutate(rng, good)
        try:
            parsed = gemma_accel._core.safetensors_parse(data, NAME)
        except ModelFormatError as e:
            assert str(e).startswith(NAME + ": "), str(e)
            outcomes["error"] += 1
            continue
        outcomes["ok"] += 1
        # what parses is consistent: every tensor lies inside the data section, in order,
        # and its byte count matches its dtype and shape
        end = parsed["data_offset"]
        assert parsed["data_offset"] == 8 + parsed["header_length"] <= len(data)
        for name, dtype, shape, offset, nbytes in parsed["tensors"]:
            assert end <= offset and offset + nbytes <= len(data), (name, offset, nbytes)
            assert nbytes == math.prod(shape) * ITEMSIZE[dtype], (name, dtype, shape, nbytes)
            end = offset + nbytes
    assert outcomes["error"] > 10000 and outcomes["ok"] > 0, outcomes
