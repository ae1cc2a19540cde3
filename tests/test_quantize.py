"""gemma_accel.quantize: API, profiles, type fallbacks, atomic output, errors before output, progress."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gemma_accel
from gemma_accel import GGUFFile

from quant_helpers import llama_config, llama_shapes, write_checkpoint, write_safetensors


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory):
    """A 2-layer llama checkpoint in two BF16 shards (rows of 64: Q4_0/Q8_0 fit, K-quants do not)."""
    return write_checkpoint(str(tmp_path_factory.mktemp("tiny") / "hf"), llama_config(), shards=2)


def listing(folder):
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------- API and report

def test_gguf_source_q4_0_carries_metadata(gemma_path, tmp_path):
    dst = tmp_path / "q4_0.gguf"
    r = gemma_accel.quantize(gemma_path, dst, profile="q4_0", progress=False)
    assert isinstance(r, gemma_accel.QuantizeReport)
    assert r.output_bytes == dst.stat().st_size and r.input_bytes == os.path.getsize(gemma_path)
    assert r.seconds > 0 and 4.0 < r.bits_per_weight < 9 and r.peak_rss_bytes > 0 and r.requantized
    assert any("requantized" in n for n in r.notes)
    with GGUFFile(gemma_path) as src, GGUFFile(dst) as out:
        assert out.version == 3
        for key, value in src.metadata.items():   # everything carried over but the file type
            if key != "general.file_type":
                assert np.array_equal(out.metadata[key], value) if isinstance(value, np.ndarray) \
                    else out.metadata[key] == value, key
        assert out.metadata["general.file_type"] == 2
        assert out.tensors["blk.0.attn_q.weight"].type == "Q4_0"
        assert out.tensors["token_embd.weight"].type == "Q8_0"   # head: Q6_K does not fit 640
        assert out.tensors["blk.0.attn_norm.weight"].type == "F32"
        assert np.array_equal(out.dequantize("blk.0.attn_norm.weight"), src.dequantize("blk.0.attn_norm.weight"))
    assert r.tensor_types["blk.3.ffn_down.weight"] == "Q4_0"
    assert "1 tensors fell back" in str(r)


def test_q4_k_falls_back_and_says_so(gemma_path, tmp_path):
    r = gemma_accel.quantize(gemma_path, tmp_path / "k.gguf", profile="q4_k", progress=False)
    assert r.tensor_types["blk.0.attn_output.weight"] == "Q4_K"      # 1024 columns
    assert r.tensor_types["blk.0.ffn_down.weight"] == "Q4_K"         # 2048
    assert r.tensor_types["blk.0.attn_q.weight"] == "Q5_0"           # 640: llama.cpp's fallback
    assert "not a multiple of 256" in r.fallbacks["blk.0.ffn_up.weight"]
    assert r.tensor_types["token_embd.weight"] == "Q8_0"


@pytest.mark.parametrize("profile,embd,matrix", [("q8_0", "Q8_0", "Q8_0"), ("q4_1", "Q8_0", "Q4_1"),
                                                 ("int4-aggressive", "Q4_0", "Q4_0")])
def test_profile_types(tiny_hf, tmp_path, profile, embd, matrix):
    r = gemma_accel.quantize(tiny_hf, tmp_path / "o.gguf", profile=profile, progress=False)
    assert r.tensor_types["blk.0.attn_q.weight"] == matrix
    assert r.tensor_types["blk.1.ffn_down.weight"] == matrix
    assert r.tensor_types["blk.0.attn_norm.weight"] == "F32"
    with GGUFFile(tmp_path / "o.gguf") as f:
        assert f.tensors["output.weight"].type == (embd if profile != "int4-aggressive" else "Q4_0")
        assert f.metadata["general.architecture"] == "llama" and f.metadata["llama.block_count"] == 2


def test_hf_norms_and_values(tiny_hf, tmp_path):
    """f32 profile: values equal the source; llama norms unchanged (no +1), q/k permuted for llama.cpp."""
    gemma_accel.quantize(tiny_hf, tmp_path / "f.gguf", profile="f32", progress=False)
    with GGUFFile(tmp_path / "f.gguf") as f, gemma_accel.HFCheckpoint(tiny_hf) as ck:
        for hf, gg in (("model.layers.0.mlp.up_proj.weight", "blk.0.ffn_up.weight"),
                       ("model.norm.weight", "output_norm.weight")):
            assert np.array_equal(f.dequantize(gg), ck.dequantize(hf))
        q, hq = f.dequantize("blk.0.attn_q.weight"), ck.dequantize("model.layers.0.self_attn.q_proj.weight")
        assert not np.array_equal(q, hq) and np.array_equal(np.sort(q, 0), np.sort(hq, 0))


def test_exclude_layers_keep_source_precision(gemma_path, tmp_path):
    dst = tmp_path / "x.gguf"
    r = gemma_accel.quantize(gemma_path, dst, profile="q4_0", exclude_layers=(0, 17), progress=False)
    with GGUFFile(gemma_path) as src, GGUFFile(dst) as out:
        for name in ("blk.0.attn_q.weight", "blk.17.ffn_down.weight"):
            assert out.tensors[name].type == src.tensors[name].type
            assert np.array_equal(out.raw(name), src.raw(name))
        assert out.tensors["blk.1.attn_q.weight"].type == "Q4_0"
    assert "excluded" in r.fallbacks["blk.0.attn_q.weight"]


def test_exclude_layers_range_checked(gemma_path, tmp_path):
    with pytest.raises(ValueError, match="outside"):
        gemma_accel.quantize(gemma_path, tmp_path / "x.gguf", exclude_layers=[18], progress=False)
    assert listing(tmp_path) == []


# ---------------------------------------------------------------- nothing lost, nothing half-written

def test_existing_dst_refused_unless_overwrite(tiny_hf, tmp_path):
    dst = tmp_path / "o.gguf"
    dst.write_bytes(b"keep me")
    with pytest.raises(gemma_accel.OutputExistsError) as e:
        gemma_accel.quantize(tiny_hf, dst, progress=False)
    assert isinstance(e.value, FileExistsError) and isinstance(e.value, gemma_accel.Error)
    assert dst.read_bytes() == b"keep me"
    gemma_accel.quantize(tiny_hf, dst, overwrite=True, progress=False)
    assert dst.read_bytes()[:4] == b"GGUF" and listing(tmp_path) == ["o.gguf"]


def test_keyboard_interrupt_leaves_nothing(tiny_hf, tmp_path):
    def interrupt(done, total, name, bytes_done, bytes_total):
        if done == 5:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        gemma_accel.quantize(tiny_hf, tmp_path / "o.gguf", progress=interrupt)
    assert listing(tmp_path) == []


def test_error_mid_way_leaves_nothing_and_keeps_old_dst(tiny_hf, tmp_path, monkeypatch):
    dst = tmp_path / "o.gguf"
    dst.write_bytes(b"old")
    real, calls = gemma_accel.block_formats.quantize, []

    def failing(x, t):
        calls.append(t)
        if len(calls) == 4:
            raise RuntimeError("injected")
        return real(x, t)
    monkeypatch.setattr(gemma_accel.block_formats, "quantize", failing)
    with pytest.raises(RuntimeError, match="injected"):
        gemma_accel.quantize(tiny_hf, dst, overwrite=True, progress=False)
    assert listing(tmp_path) == ["o.gguf"] and dst.read_bytes() == b"old"


def _broken(tmp_path, what):
    folder = str(tmp_path / what)
    cfg = llama_config()
    if what == "missing_shard":
        write_checkpoint(folder, cfg, shards=2)
        os.remove(os.path.join(folder, "model-00002-of-00002.safetensors"))
    elif what == "mismatched_index":
        write_checkpoint(folder, cfg, shards=2)
        idx = os.path.join(folder, "model.safetensors.index.json")
        data = json.load(open(idx))
        data["weight_map"]["model.norm.weight"] = "model-00002-of-00002.safetensors"
        json.dump(data, open(idx, "w"))
    elif what == "int_weights":
        write_checkpoint(folder, cfg, dtypes={"model.layers.1.mlp.up_proj.weight": "I32"})
    elif what == "unknown_arch":
        write_checkpoint(folder, dict(cfg, model_type="bert", architectures=["BertModel"]))
    elif what == "missing_tensor":
        write_checkpoint(folder, cfg)
        json.dump(dict(cfg, num_hidden_layers=3), open(os.path.join(folder, "config.json"), "w"))
    return folder


@pytest.mark.parametrize("what,exc,match", [
    ("missing_shard", gemma_accel.ModelFormatError, "missing shard"),
    ("mismatched_index", gemma_accel.ModelFormatError, "absent from shard"),
    ("int_weights", gemma_accel.Error, "dtype I32"),
    ("unknown_arch", gemma_accel.Error, "model_type 'bert'"),
    ("missing_tensor", gemma_accel.ModelFormatError, "missing"),
])
def test_bad_sources_fail_before_output(tmp_path, what, exc, match):
    src = _broken(tmp_path, what)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(exc, match=match):
        gemma_accel.quantize(src, out_dir / "o.gguf", progress=False)
    assert listing(out_dir) == []


def test_unknown_profile(tiny_hf, tmp_path):
    with pytest.raises(ValueError, match="unknown profile"):
        gemma_accel.quantize(tiny_hf, tmp_path / "o.gguf", profile="q3_x", progress=False)
    assert listing(tmp_path) == []


# ---------------------------------------------------------------- progress and CLI

def test_progress_callback_and_quiet(tiny_hf, tmp_path, capsys):
    seen = []
    gemma_accel.quantize(tiny_hf, tmp_path / "a.gguf", progress=lambda *a: seen.append(a))
    n = len(seen)
    assert n == seen[-1][1] and [s[0] for s in seen] == list(range(1, n + 1))
    assert seen[-1][3] == seen[-1][4] > 0 and all(isinstance(s[2], str) for s in seen)
    gemma_accel.quantize(tiny_hf, tmp_path / "b.gguf", progress=False)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_progress_bar(tiny_hf, tmp_path, capsys):
    pytest.importorskip("tqdm")
    gemma_accel.quantize(tiny_hf, tmp_path / "a.gguf", progress=True)
    err = capsys.readouterr().err
    assert "quantize q4_0" in err and "100%" in err and "B/s" in err


def test_cli_quantize(tiny_hf, tmp_path):
    dst = tmp_path / "cli.gguf"
    res = subprocess.run([sys.executable, "-m", "gemma_accel", "quantize", tiny_hf, str(dst), "--profile",
                          "q8_0", "--exclude-layers", "1", "-q"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "bits/weight" in res.stdout and dst.exists()
    res = subprocess.run([sys.executable, "-m", "gemma_accel", "quantize", tiny_hf, str(dst), "-q"],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "exists" in res.stderr


def test_unknown_hf_tensors_are_never_dropped_silently(tmp_path):
    """A folder with a tensor nobody maps: load() and quantize() both raise ModelFormatError
    naming it (and write nothing).  Tensors known to be outside the text decoder (a vision
    tower, rotary buffers) are skipped, and such a folder loads and generates."""
    cfg = llama_config()
    shapes = llama_shapes(cfg)
    extra_ok = {"model.vision_tower.patch_embed.weight": (8, 8),
                "model.layers.0.self_attn.rotary_emb.inv_freq": (8,)}
    folder = tmp_path / "ok"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(cfg))
    write_safetensors(folder / "model.safetensors", {**shapes, **extra_ok}, dtypes={
        "model.layers.0.self_attn.rotary_emb.inv_freq": "F32"})
    with gemma_accel.load(folder, n_ctx=16) as m:
        assert m.logits([1, 2, 3]).shape == (3, cfg["vocab_size"])

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps(cfg))
    unknown = {"model.layers.1.mlp.expert_gate.weight": (4, 64), "model.layers.0.self_attn.q_bias": (64,)}
    write_safetensors(bad / "model.safetensors", {**shapes, **unknown})
    for call in (lambda: gemma_accel.load(bad, n_ctx=16),
                 lambda: gemma_accel.quantize(bad, tmp_path / "out.gguf", profile="q8_0", progress=False)):
        with pytest.raises(gemma_accel.ModelFormatError, match="2 tensors") as e:
            call()
        assert all(name in str(e.value) for name in unknown), str(e.value)
    assert not (tmp_path / "out.gguf").exists()
