"""Decode attention with grouped queries (csrc/cpu/ga_attention.c ga_attention_group): the query
heads sharing one kv head read each key once, and long contexts split the keys over threads
whose partial softmax states are merged.

* the kernel against NumPy float64 softmax attention and against its reference twin, the
  per-head online softmax (ga_attention_one), with and without a logit softcap, across
  chunk boundaries (128 keys) and split into several key ranges;
* the model's decode on both Gemma 3 (4 heads on 1 kv head, sliding-window ring) and SmolLM2
  (9 heads on 3 kv heads) against the per-head path (GA_ATTN=one), past the 512-key window.
"""
import numpy as np
import pytest

import gemma_accel
from gemma_accel import _core

from test_kernels import KERNEL_SETS, run_in

GROUPED = [k for k in KERNEL_SETS if k != "portable"] if _core.gemm_uses_blas() else []

KERNEL_ABS_ERR = 1e-5   # float32 vs float64 on unit-scale values: measured ~1.2e-6
# logits (|max| ~77): float order only, but act16 codes downstream then flip: measured up to
# 0.063; GA_FUSED=0 (two single dots instead of the dual kernel, also float order only) 0.026
MODEL_ABS_DIFF = 0.1


def reference(q, k, v, scale, softcap):
    s = (q.astype(np.float64) @ k.T.astype(np.float64)) * scale
    if softcap > 0:
        s = softcap * np.tanh(s / softcap)
    e = np.exp(s - s.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True)) @ v.astype(np.float64)


@pytest.mark.parametrize("G,n,d", [(4, 1, 256), (4, 77, 256), (4, 300, 256), (3, 129, 64), (1, 5, 32)])
@pytest.mark.parametrize("softcap", [0.0, 20.0])
def test_grouped_kernel_matches_numpy_and_per_head(G, n, d, softcap):
    rng = np.random.default_rng(G * 1000 + n)
    q = (3 * rng.standard_normal((G, d))).astype(np.float32)
    k = rng.standard_normal((n, d)).astype(np.float32)
    v = rng.standard_normal((n, d)).astype(np.float32)
    ref = reference(q, k, v, 1 / 16, softcap)
    per_head = _core.attention_decode(q, k, v, 1 / 16, softcap, 0)
    assert np.abs(per_head - ref).max() <= KERNEL_ABS_ERR
    if not GROUPED:
        with pytest.raises(gemma_accel.Error, match="grouped kernel"):
            _core.attention_decode(q, k, v, 1 / 16, softcap, 1)
        return
    for kset in GROUPED:
        for parts in (1, 2, 5):
            if parts <= n:
                out = run_in(kset, _core.attention_decode, q, k, v, 1 / 16, softcap, parts)
                assert np.abs(out - ref).max() <= KERNEL_ABS_ERR, (kset, parts)
                assert np.abs(out - per_head).max() <= KERNEL_ABS_ERR, (kset, parts)


def test_attention_decode_rejects_bad_shapes():
    q = np.zeros((4, 8), np.float32)
    k = np.zeros((3, 8), np.float32)
    with pytest.raises(ValueError, match="need q"):
        _core.attention_decode(q, k, np.zeros((3, 4), np.float32), 1.0, 0.0, 1)
    with pytest.raises(ValueError, match="parts"):
        _core.attention_decode(q, k, k, 1.0, 0.0, 4)
    with pytest.raises(TypeError, match="float32"):
        _core.attention_decode(q.astype(np.float64), k, k, 1.0, 0.0, 1)


def decode_logits(path, ids, steps, monkeypatch, attn):
    if attn:
        monkeypatch.setenv("GA_ATTN", attn)
    else:
        monkeypatch.delenv("GA_ATTN", raising=False)
    with gemma_accel.load(path, n_ctx=1024, n_threads=2) as m:
        m._core.eval(ids, logits="none")
        return np.stack([m._core.eval([t], logits="last") for t in steps])


@pytest.mark.skipif(not GROUPED, reason="the grouped kernel needs OpenBLAS and an AVX2 kernel set")
@pytest.mark.parametrize("which", ["gemma", "smollm2"])
def test_grouped_decode_matches_per_head(which, gemma_path, smollm2_path, monkeypatch):
    """Decode from 10 to 530 cached positions: inline (under 32 keys), split over both
    threads, and past Gemma's 512-key sliding window where its cache slots wrap."""
    path = gemma_path if which == "gemma" else smollm2_path
    for n0 in (10, 520):
        ids = [1] + list(range(1000, 1000 + n0))
        steps = list(range(5000, 5010))
        grouped = decode_logits(path, ids, steps, monkeypatch, None)
        per_head = decode_logits(path, ids, steps, monkeypatch, "one")
        assert np.abs(grouped - per_head).max() <= MODEL_ABS_DIFF, n0
        assert (grouped.argmax(1) == per_head.argmax(1)).all(), n0
