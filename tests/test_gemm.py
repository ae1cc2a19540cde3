"""The model's matmul paths (csrc/cpu/ga_gemm.c, ga_matvec.c rows2, ga_vecdot_* dot2) one by one,
for the block types of the Gemma files, odd shapes and T = 1, 3, 17, 64.

* act16 (int8 + int8 residual, fused dual kernels) against act16_unfused (two single dots, the
  definition) in each kernel set, and the AVX2 twins against the portable ones;
* every path against NumPy float64 (dequantize(W) @ x) with the matvec error metric of
  tests/test_kernels.py: max |y - ref| / max_r sum_i |W_ri| |x_i|;
* each token's row of a batch equals the single-token (T = 1) result: no cross-talk.
"""
import os
import zlib

import numpy as np
import pytest

import gemma_accel
from gemma_accel import _core

from test_kernels import KERNEL_SETS, random_weight, run_in

TYPES = ["Q4_0", "Q5_0", "Q8_0", "Q4_K", "Q6_K", "Q4_1", "Q5_K", "F16"]
SHAPES = [(1, 256), (33, 512), (70, 640), (257, 256)]   # (rows, n); n a multiple of 256 for K types
TOKENS = [1, 3, 17, 64]

# bounds (measured maxima in comments)
ACT8_REL_ERR = 5e-2       # int8 activations, x with 30x outliers: 3.5e-2
ACT16_REL_ERR = 2e-4      # int8 + int8 residual, 32-element blocks: 6.2e-5 over 300 seeds
ACT16_K_REL_ERR = 5e-4    # the same, one scale per 256 elements (Q8_K): 2.4e-4 over 300 seeds
F32_REL_ERR = 2e-6        # f32 products on dequantized tiles: ~3e-7
FUSED_REL_ERR = 1e-6      # fused dual kernels vs two single dots (float order only): ~1e-7
TWIN_REL_ERR = 1e-6       # AVX2 vs portable, same path


def seed_of(*case):
    """A seed per test case that is the same in every run (hash() of a str is not)."""
    return zlib.crc32(repr(case).encode())


def case_data(*case):
    """(w as float64, its block bytes, x with Gemma-like outliers, float64 x @ w.T) of one case."""
    tag, name, rows, n, T = case
    rng = np.random.default_rng(seed_of(*case))
    wb, w = random_weight(name, rows, n, rng)
    x = rng.standard_normal((T, n)).astype(np.float32)
    x[:, ::97] *= 30.0  # Gemma-like outliers
    return w, np.ascontiguousarray(wb), x, x.astype(np.float64) @ w.T


def rel_err(y, ref, w, x):
    scale = (np.abs(x.astype(np.float64)) @ np.abs(w).T).max() + 1e-30
    return float(np.abs(y.astype(np.float64) - ref).max() / scale)


def cases():
    for name in TYPES:
        for rows, n in SHAPES:
            if name.endswith("_K") and n % 256:
                continue
            for T in TOKENS:
                yield name, rows, n, T


@pytest.mark.parametrize("name,rows,n,T", list(cases()))
def test_gemm_paths(name, rows, n, T):
    w, wbytes, x, ref = case_data("paths", name, rows, n, T)
    out = {}
    for k in KERNEL_SETS:
        for mode in ("act8", "act16", "act16_unfused", "f32"):
            y = run_in(k, _core.gemm, wbytes, name, rows, n, x, mode)
            assert y.shape == (T, rows)
            out[k, mode] = y
        assert rel_err(out[k, "act8"], ref, w, x) <= ACT8_REL_ERR
        act16_bound = ACT16_K_REL_ERR if name.endswith("_K") else ACT16_REL_ERR
        assert rel_err(out[k, "act16"], ref, w, x) <= act16_bound
        assert rel_err(out[k, "act16_unfused"], ref, w, x) <= act16_bound
        assert rel_err(out[k, "f32"], ref, w, x) <= F32_REL_ERR
        assert rel_err(out[k, "act16"], out[k, "act16_unfused"].astype(np.float64), w, x) <= FUSED_REL_ERR
    for k in KERNEL_SETS[1:]:  # the SIMD twins against the portable definitions
        for mode in ("act8", "act16", "act16_unfused", "f32"):
            assert rel_err(out[k, mode], out["portable", mode].astype(np.float64), w, x) <= TWIN_REL_ERR
    # a batch row equals the same token alone
    if T > 1:
        for k in KERNEL_SETS:
            for mode in ("act16", "f32"):
                y1 = run_in(k, _core.gemm, wbytes, name, rows, n, np.ascontiguousarray(x[T - 1:]), mode)
                np.testing.assert_allclose(out[k, mode][T - 1], y1[0], rtol=1e-5,
                                           atol=1e-6 * float(np.abs(ref).max() + 1))


Q16_TYPES = ["Q4_0", "Q5_0", "Q8_0"]


@pytest.mark.skipif("avx512" not in KERNEL_SETS, reason="the int16 GEMM needs AVX-512 VL/BW/VNNI")
@pytest.mark.parametrize("name,rows,n,T", [c for c in cases() if c[0] in Q16_TYPES] +
                         [(t, 13, 2048, 45) for t in Q16_TYPES])
def test_gemm_q16_matches_act16(name, rows, n, T):
    """The prefill int16 GEMM (csrc/cpu/ga_gemm_q16.h) computes the act16 integer sums of every token:
    equal to the per-token act16 path up to float order, row and token tails included."""
    w, wbytes, x, ref = case_data("q16", name, rows, n, T)
    y = run_in("avx512", _core.gemm, wbytes, name, rows, n, x, "q16")
    y_tok = run_in("portable", _core.gemm, wbytes, name, rows, n, x, "act16_unfused")
    assert y.shape == (T, rows)
    assert rel_err(y, y_tok.astype(np.float64), w, x) <= FUSED_REL_ERR
    assert rel_err(y, ref, w, x) <= ACT16_REL_ERR


def test_gemm_q16_refuses_other_types():
    rng = np.random.default_rng(0)
    wb, _ = random_weight("Q4_K", 4, 256, rng)
    with pytest.raises(gemma_accel.Error):
        _core.gemm(np.ascontiguousarray(wb), "Q4_K", 4, 256, np.zeros((2, 256), np.float32), "q16")


@pytest.mark.parametrize("name", ["Q4_0", "Q5_0"])
@pytest.mark.parametrize("rows,n,T", [(8, 32, 1), (64, 640, 3), (2048, 640, 1), (24, 8192, 2)])
def test_gemm_interleaved_matches_rows(name, rows, n, T):
    """Decode on rows interleaved by 8 (csrc/cpu/ga_x8.h, the avx512 set's kernels; other sets run
    the row kernels on the original rows): the act16 and act8 integer sums of the portable
    definitions, up to float order."""
    w, wbytes, x, ref = case_data("x8", name, rows, n, T)
    y16 = run_in("portable", _core.gemm, wbytes, name, rows, n, x, "act16_unfused").astype(np.float64)
    y8 = run_in("portable", _core.gemm, wbytes, name, rows, n, x, "act8").astype(np.float64)
    for k in KERNEL_SETS:
        y = run_in(k, _core.gemm, wbytes, name, rows, n, x, "act16_x8")
        assert rel_err(y, y16, w, x) <= FUSED_REL_ERR, k
        assert rel_err(y, ref, w, x) <= ACT16_REL_ERR, k
        y = run_in(k, _core.gemm, wbytes, name, rows, n, x, "act8_x8")
        assert rel_err(y, y8, w, x) <= TWIN_REL_ERR, k
        assert rel_err(y, ref, w, x) <= ACT8_REL_ERR, k


@pytest.mark.parametrize("name,rows,n", [("Q8_0", 8, 32), ("Q5_0", 12, 32), ("Q4_0", 8, 8224)])
def test_gemm_interleaved_refuses_other_shapes(name, rows, n):
    rng = np.random.default_rng(0)
    wb, _ = random_weight(name, rows, n, rng)
    with pytest.raises(gemma_accel.Error, match="interleaving"):
        _core.gemm(np.ascontiguousarray(wb), name, rows, n, np.zeros((1, n), np.float32), "act16_x8")


def test_gemm_rejects_bad_input():
    rng = np.random.default_rng(0)
    wb, _ = random_weight("Q8_0", 4, 64, rng)
    x = np.zeros((2, 64), np.float32)
    with pytest.raises(ValueError):
        _core.gemm(np.ascontiguousarray(wb), "Q8_0", 4, 64, x, "bogus")
    with pytest.raises(ValueError):
        _core.gemm(np.ascontiguousarray(wb), "Q8_0", 4, 64, np.zeros((2, 32), np.float32), "f32")
    with pytest.raises(ValueError):
        _core.gemm(np.ascontiguousarray(wb)[:2], "Q8_0", 4, 64, x, "act8")


def test_gemm_blas_choice_follows_build_and_kernel_set():
    """The f32 gemm runs on OpenBLAS exactly when the build linked it and an AVX2 set is
    selected; the portable set never does.  `make` installs libopenblas-dev, so a build from
    the Makefile has it."""
    linked = _core.cpu_info()["openblas"]
    assert run_in("portable", _core.gemm_uses_blas) is False
    for k in KERNEL_SETS[1:]:
        assert run_in(k, _core.gemm_uses_blas) is linked, k
    headers = ("/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h", "/usr/include/openblas/cblas.h")
    if os.environ.get("GA_NO_OPENBLAS") is None and any(os.path.exists(h) for h in headers):
        assert linked, "libopenblas-dev is installed but the build did not link OpenBLAS"


EXP_REL_ERR = 5e-7  # AVX2 exp vs float64: 1.2e-7 (header of csrc/cpu/ga_ops_avx2.c)


def test_exp_f32_twins():
    x = np.concatenate([np.linspace(-100, 0, 1001), np.linspace(0, 80, 333), [-np.inf, -87.4, -87.3]])
    x = x.astype(np.float32)
    ref = np.exp(x.astype(np.float64))
    for k in KERNEL_SETS:
        y = run_in(k, _core.exp_f32, x).astype(np.float64)
        ok = ref > 1e-37  # the AVX2 version flushes below exp(-87.33) to 0
        assert np.all(np.abs(y[ok] - ref[ok]) <= EXP_REL_ERR * ref[ok])
        assert np.all(y[~ok] <= 1e-37)
        assert y[x == -np.inf].item() == 0.0


ATTN_BLOCKED_MAX_DIFF = 1e-3  # logits, blocked (sgemm) vs per-query attention: 2.9e-5


def test_blocked_attention_matches_per_query(gemma_path, monkeypatch):
    """The prefill attention on sgemm blocks (ga_attention_block) against its reference,
    the per-query online softmax (GA_ATTN=one), across the 512-token sliding window.  The
    matmuls take the f32 path (GA_GEMM=f32), continuous in its input: the int16 prefill GEMM
    rounds activations to codes, which would add its own rounding flips to the comparison."""
    import gemma_accel
    ids = [2] + list(range(1000, 1700))
    monkeypatch.setenv("GA_GEMM", "f32")
    out = {}
    for mode in ("one", "blocked"):
        if mode == "one":
            monkeypatch.setenv("GA_ATTN", "one")
        else:
            monkeypatch.delenv("GA_ATTN", raising=False)
        with gemma_accel.load(gemma_path, n_ctx=1024, n_threads=2) as m:
            out[mode] = m.logits(ids, last_n=300)
    assert np.abs(out["one"] - out["blocked"]).max() <= ATTN_BLOCKED_MAX_DIFF
    assert (out["one"].argmax(1) == out["blocked"].argmax(1)).all()


@pytest.mark.parametrize("kset", KERNEL_SETS)
def test_rope_tables_match_direct(gemma_path, monkeypatch, kset):
    """RoPE with per-chunk tables (ga_rope_neox_tab, computed once for all layers of a kind)
    gives bit-identical logits to the per-call angles (GA_ROPE=direct), prefill and decode."""
    import gemma_accel
    ids = [2] + list(range(3000, 3100))
    out = {}
    for mode in ("direct", "tables"):
        if mode == "direct":
            monkeypatch.setenv("GA_ROPE", "direct")
        else:
            monkeypatch.delenv("GA_ROPE", raising=False)
        with gemma_accel.load(gemma_path, n_ctx=256, n_threads=2) as m:
            out[mode] = run_in(kset, m.logits, ids, last_n=5)
            out[mode + "_gen"] = run_in(kset, m.generate, ids[:20], max_tokens=8, temperature=0).tokens
    np.testing.assert_array_equal(out["direct"], out["tables"])
    assert out["direct_gen"] == out["tables_gen"]
