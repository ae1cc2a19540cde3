"""GGUFFile on the real model files, checked against gguf-py's GGUFReader
(the independent reference): every key, value, type and tensor."""
import tracemalloc

import numpy as np
import pytest
from gguf import GGUFReader, GGUFValueType

import gemma_accel
from gemma_accel import GGUFFile, GGUFWriter, ModelFormatError


@pytest.fixture(scope="module", params=["gemma", "smollm2"])
def pair(request):
    path = request.getfixturevalue(f"{request.param}_path")
    with GGUFFile(path) as ours:
        yield ours, GGUFReader(path)


def reference_type(field) -> str:
    names = [GGUFValueType(t).name for t in field.types]
    return "".join(f"{n}[" for n in names[:-1]) + names[-1] + "]" * (len(names) - 1)


def test_metadata_matches_reference(pair):
    ours, ref = pair
    ref_fields = {k: f for k, f in ref.fields.items() if not k.startswith("GGUF.")}
    assert list(ours.metadata) == list(ref_fields)
    for key, field in ref_fields.items():
        assert ours.metadata_types[key] == reference_type(field), key
        value, expected = ours.metadata[key], field.contents()
        if isinstance(value, np.ndarray):
            assert value.dtype == field.parts[-1].dtype, key
            np.testing.assert_array_equal(value, np.asarray(expected, dtype=value.dtype), err_msg=key)
        else:
            assert value == expected, key


def test_token_array_in_full(pair):
    ours, ref = pair
    tokens = ours.metadata["tokenizer.ggml.tokens"]
    assert isinstance(tokens, list) and len(tokens) == len(ref.fields["tokenizer.ggml.tokens"].data)
    assert tokens == ref.fields["tokenizer.ggml.tokens"].contents()


def test_tensors_match_reference(pair):
    ours, ref = pair
    assert list(ours.tensors) == [t.name for t in ref.tensors]
    for t in ref.tensors:
        info = ours.tensors[t.name]
        assert info.shape == tuple(int(d) for d in reversed(t.shape)), t.name
        assert (info.type_id, info.type) == (int(t.tensor_type), t.tensor_type.name), t.name
        assert (info.offset, info.nbytes) == (t.data_offset, t.n_bytes), t.name
        assert np.array_equal(ours.raw(t.name), t.data.reshape(-1).view(np.uint8)), t.name


def test_raw_is_zero_copy(gemma_path):
    with GGUFFile(gemma_path) as f:
        tracemalloc.start()
        a = f.raw("token_embd.weight")
        b = f.raw("token_embd.weight")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert a.nbytes > 100_000_000 and peak < 1_000_000
        assert np.shares_memory(a, b) and not a.flags.owndata and not a.flags.writeable


def test_header_fields(gemma_path):
    with GGUFFile(gemma_path) as f:
        assert (f.version, f.alignment, f.architecture) == (3, 32, "gemma3")
        assert f.data_offset % 32 == 0 and f.size == gemma_path.stat().st_size
        assert "token_embd.weight" in f and "nope" not in f and len(f) == 236
        assert f.tensors["token_embd.weight"].shape == (262144, 640)
        text = f.summary()
        for part in ("gemma3", "Gemma 3 270m", "layers 18", "vocab 262144", "Q4_K", "context length 32768"):
            assert part in text
        assert "gemma3" in repr(f) and "236 tensors" in repr(f)
        with pytest.raises(KeyError, match="no tensor 'nope'"):
            f.raw("nope")


def test_close_with_live_views(gemma_path):
    f = GGUFFile(gemma_path)
    view = f.raw("output_norm.weight")
    before = view.copy()
    f.close()
    f.close()
    assert "closed" in repr(f)
    assert np.array_equal(view, before)  # the mapping lives on with the view
    with pytest.raises(ValueError, match="closed"):
        f.raw("output_norm.weight")


def test_version_2_file(tmp_path):
    path = tmp_path / "v2.gguf"
    with GGUFWriter(path) as w:
        w.add_metadata("general.architecture", "test")
        w.add_tensor_info("w", (2, 3), "F32")
        w.write_header()
        w.write_tensor_data("w", np.arange(6, dtype=np.float32).reshape(2, 3))
    blob = bytearray(path.read_bytes())
    blob[4:8] = (2).to_bytes(4, "little")
    path.write_bytes(blob)
    with GGUFFile(path) as f:
        assert f.version == 2 and f.metadata == {"general.architecture": "test"}
        assert f.raw("w").view(np.float32).tolist() == [0, 1, 2, 3, 4, 5]
    assert GGUFReader(path).fields["GGUF.version"].contents() == 2


def test_missing_empty_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        GGUFFile(tmp_path / "absent.gguf")
    with pytest.raises(IsADirectoryError):
        GGUFFile(tmp_path)
    empty = tmp_path / "empty.gguf"
    empty.touch()
    with pytest.raises(ModelFormatError, match="empty.gguf: not a GGUF file: the file is empty"):
        GGUFFile(empty)


@pytest.mark.parametrize("model", ["gemma", "smollm2"])
def test_dequantize_matches_reference(request, model):
    """For every tensor type in the file, the smallest tensor of that type vs gguf-py."""
    pytest.importorskip("gemma_accel.block_formats")
    from gguf.quants import dequantize
    path = request.getfixturevalue(f"{model}_path")
    with GGUFFile(path) as f:
        smallest = {}
        for t in sorted(f.tensors.values(), key=lambda t: t.nbytes):
            smallest.setdefault(t.type, t)
        for info in smallest.values():
            ours = f.dequantize(info.name)
            expected = dequantize(f.raw(info.name), info.type_id).reshape(info.shape)
            assert ours.dtype == np.float32 and ours.shape == info.shape, info.name
            scale = float(np.abs(expected).max())
            np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-6 * scale,
                                       err_msg=f"{info.name} {info.type}")
