"""SafetensorsFile and HFCheckpoint against files written by the independent
`safetensors` package and by hand (BF16, unaligned offsets)."""
import json
import os
import sys

import numpy as np
import pytest

import gemma_accel
from gemma_accel import HFCheckpoint, SafetensorsFile

sys.path.insert(0, os.path.dirname(__file__))
from st_helpers import bf16_reference, tensors_file, write  # noqa: E402

st_numpy = pytest.importorskip("safetensors.numpy")

DTYPES = {  # numpy dtype -> safetensors name
    np.float64: "F64", np.float32: "F32", np.float16: "F16",
    np.int64: "I64", np.int32: "I32", np.int16: "I16", np.int8: "I8",
    np.uint64: "U64", np.uint32: "U32", np.uint16: "U16", np.uint8: "U8", np.bool_: "BOOL",
}
SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 0, 3), (2, 3, 7), (1, 1, 1, 1)]


def random_array(rng, dtype, shape):
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(bool)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return np.asarray(rng.standard_normal(shape) * 100).astype(dtype)


# ---- files written by the safetensors package ------------------------------------

@pytest.mark.parametrize("dtype", list(DTYPES), ids=lambda d: DTYPES[d])
def test_matches_reference_reader(tmp_path, dtype):
    rng = np.random.default_rng(0)
    tensors = {f"t{i}.weight": random_array(rng, dtype, s) for i, s in enumerate(SHAPES)}
    path = tmp_path / "x.safetensors"
    st_numpy.save_file(tensors, str(path), metadata={"format": "np", "note": "héllo"})
    expected = st_numpy.load_file(str(path))
    with SafetensorsFile(path) as f:
        assert f.metadata == {"format": "np", "note": "héllo"}
        assert set(f.keys()) == set(tensors)
        for name, want in expected.items():
            info = f.tensors[name]
            assert info.dtype == DTYPES[dtype] and info.shape == want.shape
            assert info.nbytes == want.nbytes and info.file == str(path)
            got = f.array(name)
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
            assert f.raw(name).tobytes() == want.tobytes()


def test_float_dequantize_matches_reference(tmp_path):
    rng = np.random.default_rng(1)
    tensors = {"a": random_array(rng, np.float32, (4, 9)), "h": random_array(rng, np.float16, (5, 3))}
    path = tmp_path / "f.safetensors"
    st_numpy.save_file(tensors, str(path))
    with SafetensorsFile(path) as f:
        np.testing.assert_array_equal(f.dequantize("a"), tensors["a"])
        got = f.dequantize("h")
        assert got.dtype == np.float32 and got.shape == (5, 3)
        np.testing.assert_array_equal(got, tensors["h"].astype(np.float32))


def test_empty_file_of_tensors(tmp_path):
    path = tmp_path / "e.safetensors"
    st_numpy.save_file({}, str(path), metadata={"k": "v"})
    with SafetensorsFile(path) as f:
        assert len(f) == 0 and f.metadata == {"k": "v"}


# ---- exact float widening -------------------------------------------------------------

def test_bf16_every_bit_pattern_exact(tmp_path):
    bits = np.arange(1 << 16, dtype=np.uint16)  # includes +-0, subnormals, inf, every NaN
    bits = np.random.default_rng(2).permutation(bits).reshape(256, 256)
    path = write(tmp_path / "b.safetensors", tensors_file([("w", "BF16", bits.shape, bits.tobytes())]))
    with SafetensorsFile(path) as f:
        np.testing.assert_array_equal(f.array("w"), bits)  # BF16 is viewed as its uint16 bits
        got = f.dequantize("w")
        assert got.dtype == np.float32 and got.shape == (256, 256)
        np.testing.assert_array_equal(got.view(np.uint32), bf16_reference(bits).view(np.uint32))


def test_bf16_agrees_with_ml_dtypes(tmp_path):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    vals = np.random.default_rng(3).standard_normal(1000).astype(ml_dtypes.bfloat16)
    path = write(tmp_path / "b.safetensors", tensors_file([("w", "BF16", (1000,), vals.tobytes())]))
    with SafetensorsFile(path) as f:
        np.testing.assert_array_equal(f.dequantize("w"), vals.astype(np.float32))


def test_f16_every_bit_pattern_exact(tmp_path):
    bits = np.arange(1 << 16, dtype=np.uint16)
    path = write(tmp_path / "h.safetensors", tensors_file([("w", "F16", (1 << 16,), bits.tobytes())]))
    want = bits.view(np.float16).astype(np.float32)
    with SafetensorsFile(path) as f:
        got = f.dequantize("w")
    nan = np.isnan(want)
    # Finite values, infinities and subnormals: bit-exact against NumPy.
    np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))
    # NaNs: NumPy may quiet signalling NaNs in hardware; ours keep sign and payload.
    assert np.isnan(got[nan]).all()
    g = got[nan].view(np.uint32)
    b = bits[nan].astype(np.uint32)
    np.testing.assert_array_equal(g >> 31, b >> 15)
    np.testing.assert_array_equal((g >> 13) & 0x3FF, b & 0x3FF)


@pytest.mark.parametrize("dtype,npdtype", [("F32", "<f4"), ("F16", "<f2"), ("BF16", "<u2"), ("I64", "<i8")])
def test_unaligned_offsets(tmp_path, dtype, npdtype):
    """A 1-byte tensor first puts every later tensor at an odd offset."""
    rng = np.random.default_rng(4)
    n = 5000  # above the GIL-release threshold
    vals = rng.integers(0, 1 << 15, n).astype(npdtype) if dtype in ("BF16", "I64") \
        else rng.standard_normal(n).astype(npdtype)
    tensors = [("pad", "U8", (1,), b"\x07"), ("w", dtype, (n,), vals.tobytes())]
    content = tensors_file(tensors)
    if len(content) % 2 == 0:  # data start 8 + N must be even for "w" to sit at an odd offset
        content = tensors_file(tensors, pad=1)
    path = write(tmp_path / "u.safetensors", content)
    with SafetensorsFile(path) as f:
        assert f.tensors["w"].offset % 2 == 1
        np.testing.assert_array_equal(f.array("w"), vals)
        if dtype == "BF16":
            np.testing.assert_array_equal(f.dequantize("w"), bf16_reference(vals))
        elif dtype != "I64":
            np.testing.assert_array_equal(f.dequantize("w"), vals.astype(np.float32))


def test_dequantize_rejects_other_dtypes(tmp_path):
    path = tmp_path / "i.safetensors"
    st_numpy.save_file({"ids": np.arange(4, dtype=np.int32)}, str(path))
    with SafetensorsFile(path) as f, pytest.raises(gemma_accel.Error, match="I32"):
        f.dequantize("ids")


def test_unicode_and_escaped_names(tmp_path):
    header = ('{"caf\\u00e9.\\ud83d\\ude00": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},'
              ' "__metadata__": {"a\\"b": "line\\nbreak"}}')
    from st_helpers import file_bytes
    path = write(tmp_path / "n.safetensors", file_bytes(header, b"\x01\x02"))
    with SafetensorsFile(path) as f:
        assert list(f.keys()) == ["café.😀"]
        assert f.metadata == {'a"b': "line\nbreak"}
        assert f.raw("café.😀").tolist() == [1, 2]


def test_unknown_entry_fields_are_ignored(tmp_path):
    """As in the reference reader, whose TensorInfo does not deny unknown fields."""
    from st_helpers import file_bytes
    header = {"w": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "extra": [1, {"x": None}]}}
    with SafetensorsFile(write(tmp_path / "x.safetensors", file_bytes(header, b"\x05"))) as f:
        assert f.raw("w").tolist() == [5]


# ---- zero copy and lifetime --------------------------------------------------------------

def test_views_share_the_mapping(tmp_path):
    path = tmp_path / "z.safetensors"
    st_numpy.save_file({"a": np.arange(12, dtype=np.float32).reshape(3, 4)}, str(path))
    with SafetensorsFile(path) as f:
        whole = np.frombuffer(f._mm, dtype=np.uint8)
        raw, arr, deq = f.raw("a"), f.array("a"), f.dequantize("a")
        for view in (raw, arr, deq):
            assert np.shares_memory(view, whole)
            assert not view.flags.writeable
        with pytest.raises(ValueError):
            arr[0, 0] = 1.0


def test_views_outlive_close(tmp_path):
    path = tmp_path / "z.safetensors"
    st_numpy.save_file({"a": np.arange(5, dtype=np.int16)}, str(path))
    f = SafetensorsFile(path)
    arr = f.array("a")
    f.close()
    assert arr.tolist() == [0, 1, 2, 3, 4]  # still mapped while the view lives
    with pytest.raises(gemma_accel.Error, match="closed"):
        f.raw("a")
    assert "a" in f and "b" not in f
    with pytest.raises(KeyError, match="b"):
        SafetensorsFile(path).raw("b")


# ---- Hugging Face checkpoint folders ---------------------------------------------------

CONFIG = {"architectures": ["Gemma3ForCausalLM"], "hidden_size": 8, "model_type": "gemma3_text"}


def make_sharded(folder, config=CONFIG):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(5)
    shards = {
        "model-00001-of-00002.safetensors": {"model.embed_tokens.weight": rng.standard_normal((6, 8)).astype(np.float16),
                                             "model.norm.weight": rng.standard_normal(8).astype(np.float32)},
        "model-00002-of-00002.safetensors": {"model.layers.0.mlp.up_proj.weight": rng.standard_normal((4, 8)).astype(np.float32)},
    }
    weight_map = {}
    for shard, tensors in shards.items():
        st_numpy.save_file(tensors, str(folder / shard), metadata={"format": "pt"})
        weight_map.update({name: shard for name in tensors})
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps(config))
    return {k: v for t in shards.values() for k, v in t.items()}


def test_sharded_checkpoint_merges(tmp_path):
    expected = make_sharded(tmp_path / "ckpt")
    (tmp_path / "ckpt" / "tokenizer.json").write_text("{}")
    with HFCheckpoint(tmp_path / "ckpt") as ck:
        assert ck.architecture == "Gemma3ForCausalLM" and ck.config["hidden_size"] == 8
        assert set(ck.keys()) == set(expected) and len(ck.files) == 2
        assert ck.tokenizer_files == {"tokenizer.json": str(tmp_path / "ckpt" / "tokenizer.json")}
        for name, want in expected.items():
            assert os.path.basename(ck.tensors[name].file).startswith("model-0000")
            np.testing.assert_array_equal(ck.dequantize(name), want.astype(np.float32))
            assert ck.raw(name).tobytes() == want.tobytes()


def test_single_file_checkpoint_and_text_config(tmp_path):
    folder = tmp_path / "mm"
    folder.mkdir()
    config = {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
              "text_config": {"hidden_size": 2560, "model_type": "gemma3_text"}, "vision_config": {}}
    (folder / "config.json").write_text(json.dumps(config))
    st_numpy.save_file({"language_model.model.norm.weight": np.ones(4, np.float32)}, str(folder / "model.safetensors"))
    with HFCheckpoint(folder) as ck:
        assert ck.architecture == "Gemma3ForConditionalGeneration"
        assert ck.config["hidden_size"] == 2560 and ck.config["model_type"] == "gemma3_text"
        assert "vision_config" in ck.config and ck.raw_config == config
        np.testing.assert_array_equal(ck.dequantize("language_model.model.norm.weight"), np.ones(4))
        assert ck.tokenizer_files == {}


def test_checkpoint_missing_config(tmp_path):
    make_sharded(tmp_path / "c")
    os.remove(tmp_path / "c" / "config.json")
    with pytest.raises(gemma_accel.ModelFormatError, match="missing config.json"):
        HFCheckpoint(tmp_path / "c")


def test_checkpoint_without_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    with pytest.raises(gemma_accel.ModelFormatError, match="no weights found"):
        HFCheckpoint(tmp_path)


def test_checkpoint_missing_shard(tmp_path):
    make_sharded(tmp_path / "c")
    os.remove(tmp_path / "c" / "model-00002-of-00002.safetensors")
    with pytest.raises(gemma_accel.ModelFormatError,
                       match="missing shard model-00002-of-00002.safetensors listed in model.safetensors.index.json"):
        HFCheckpoint(tmp_path / "c")


def edit_index(folder, fn):
    path = folder / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    fn(index["weight_map"])
    path.write_text(json.dumps(index))


def test_checkpoint_index_names_absent_tensor(tmp_path):
    make_sharded(tmp_path / "c")
    edit_index(tmp_path / "c", lambda wm: wm.update({"model.layers.9.ghost": "model-00002-of-00002.safetensors"}))
    with pytest.raises(gemma_accel.ModelFormatError, match="'model.layers.9.ghost'.*absent from shard model-00002"):
        HFCheckpoint(tmp_path / "c")


@pytest.mark.parametrize("shard", ["../outside.safetensors", "/etc/passwd", "sub/../../x.safetensors"])
def test_checkpoint_index_escaping_folder(tmp_path, shard):
    make_sharded(tmp_path / "c")
    st_numpy.save_file({"x": np.zeros(1, np.float32)}, str(tmp_path / "outside.safetensors"))
    edit_index(tmp_path / "c", lambda wm: wm.update({"model.norm.weight": shard}))
    with pytest.raises(gemma_accel.ModelFormatError, match="outside the checkpoint folder|invalid shard name"):
        HFCheckpoint(tmp_path / "c")


def test_checkpoint_bad_shard_is_reported_with_its_name(tmp_path):
    make_sharded(tmp_path / "c")
    (tmp_path / "c" / "model-00002-of-00002.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00[]")
    with pytest.raises(gemma_accel.ModelFormatError, match="model-00002-of-00002.safetensors: header is not a JSON object"):
        HFCheckpoint(tmp_path / "c")
