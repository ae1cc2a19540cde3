"""Every backend op on every available backend, against the CPU backend's portable kernels
(in the way of ggml's test-backend-ops).

Each case builds its inputs from a seeded generator at the shapes the models use: the
default model (Gemma 3 270M: n_embd 640, 4 query heads on 1 kv head of 256, n_ff 2048, a
512-token sliding window, q/k norms, NeoX RoPE, GELU) and SmolLM2-135M (llama: n_embd 576,
9 heads on 3 kv heads of 64, n_ff 1536, adjacent-pair RoPE, SiLU), with row tails (rows
and widths that are not multiples of the kernels' blocks), grouped-query attention, the
sliding window, softcaps, several sequences in one chunk, and KV pages shared by a fork.
It runs on ("cpu", kernel set) for every kernel set this CPU can run, and on every other
backend built in, and compares every output with the reference run by normalized MSE,
sum((out - ref)^2) / sum(ref^2), under the bound stated per op in NMSE_BOUND.
"""
import os

import numpy as np
import pytest

# Vulkan ops run under the Khronos validation layer; any message it reports fails the case
os.environ["GA_VK_VALIDATION"] = "1"

from gemma_accel import _core  # noqa: E402

KERNEL_SETS = _core.cpu_info()["kernel_sets"]
VULKAN_DEVICES, VULKAN_MISSING = _core.vulkan_devices()
# npu runs the CPU backend's ops on streamed weight copies: its own parts (the arena, the
# streaming from the model file) are tested on whole models in test_npu.py
TARGETS = [("cpu", k) for k in KERNEL_SETS if k != "portable"] + \
          [(b, None) for b in _core.backends() if b not in ("cpu", "vulkan", "npu")] + \
          [("vulkan", None)] * bool(VULKAN_DEVICES)
REFERENCE = ("cpu", "portable")

# Per op, the largest normalized MSE allowed against the portable kernels.  Element ops
# differ only in float order and vector exp/tanh; matmul compares the SIMD dot products on
# quantized activations (and, for chunks, dequantized f32 tiles or the int16 GEMM) with the
# portable ones; attention compares sgemm blocks and grouped decode with the per-query
# online softmax.  Measured worst cases on an AVX-512 machine (avx2 and avx512 sets):
# matmul 4.8e-10 (Q8_0, 64 tokens, int16 GEMM), attention 6.1e-13 (softcap, 900 keys),
# glu 1.7e-15, the others 0.  The bounds leave 10x or more for other CPUs' float order.
NMSE_BOUND = {
    "get_rows": 1e-14,
    "rms_norm": 1e-12,
    "matmul": 5e-9,
    "qk_rope_store": 1e-12,
    "attention": 1e-10,
    "glu": 1e-12,
    "residual_add": 1e-12,
    "softcap": 1e-12,
    "kv_copy": 0.0,
}
assert set(NMSE_BOUND) == set(_core.op_names()), "every op needs a bound and a case"

GEMMA = dict(n_embd=640, n_head=4, n_head_kv=1, head_dim=256, n_ff=2048, window=512, neox=1, gelu=1, qk_norm=1)
SMOLLM = dict(n_embd=576, n_head=9, n_head_kv=3, head_dim=64, n_ff=1536, window=0, neox=0, gelu=0, qk_norm=0)
F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, BF16 = 0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 30


def hparams(shape, attn_softcap=0.0):
    """Two layers: 0 global, 1 sliding (when the shape has a window, with its own RoPE base)."""
    s = shape
    return dict(arch=3, n_layer=2, n_embd=s["n_embd"], n_vocab=1000, norm_eps=1e-6, rope_neox=s["neox"],
                sliding_window=s["window"], attn_scale=s["head_dim"] ** -0.5, attn_softcap=attn_softcap,
                final_softcap=0.0, embed_scale=1, act_gelu=s["gelu"], post_norms=1, qk_norm=s["qk_norm"],
                n_head=s["n_head"], n_head_kv=s["n_head_kv"], head_dim=s["head_dim"], n_ff=s["n_ff"],
                rope_base=1e6, rope_freq_scale=1.0, rope_base_swa=1e4, rope_freq_scale_swa=1.0,
                layer_swa=[0, 1 if s["window"] else 0])


def nmse(out, ref):
    out, ref = np.asarray(out, np.float64), np.asarray(ref, np.float64)
    den = np.sum(ref * ref)
    return float(np.sum((out - ref) ** 2) / den) if den > 0 else float(np.sum(out * out))


def weight(rng, type_id, rows, cols):
    x = (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)
    return (_core.quantize(x, type_id), type_id, rows, cols)


class Runner:
    """An OpRunner on one (backend, kernel set); the kernel set is restored after.  kw may
    hold env: variables set while the backend starts (GA_VK_MAX_RANGE)."""

    def __init__(self, target, hp, **kw):
        self.backend, self.kset = target
        self.env = kw.pop("env", {})
        self.hp, self.kw = hp, kw

    def __enter__(self):
        self.prev = _core.set_kernel_set(self.kset) if self.kset else None
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            self.r = _core.OpRunner(self.hp, backend=self.backend, **self.kw)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k)
                else:
                    os.environ[k] = v
        return self.r

    def __exit__(self, *exc):
        del self.r
        if self.prev:
            _core.set_kernel_set(self.prev)


# ---------------------------------------------------------------------------- cases
# Each case runs on a Runner and returns {name: array}; the same seed gives every target
# the same inputs.

def case_get_rows(r, type_id, D):
    rng = np.random.default_rng(1)
    r.load([weight(rng, type_id, 300, D)])
    x = r.alloc("act", 8, D)
    r.chunk([0, 299, 17, 17, 5], [0, 1, 2, 3, 4], [0] * 5)
    r.run("get_rows", T=5, width=D, weights=[0], dst=[x], scale=D ** 0.5)
    return {"x": r.read(x, 5 * D)}


def case_rms_norm(r, D, T, row0):
    rng = np.random.default_rng(2)
    src, dst = r.alloc("act", 16, D), r.alloc("act", 16, D)
    r.write(src, rng.standard_normal(16 * D).astype(np.float32) * 3)
    r.chunk(list(range(T)), list(range(T)), [0] * T)
    r.run("rms_norm", T=T, width=D, src=src, dst=[dst], src_row0=row0, dst_row0=1,
          norm=rng.standard_normal(D).astype(np.float32))
    return {"dst": r.read(dst, 16 * D)}


def case_matmul(r, shapes, type_ids, T):
    """Up to three weights sharing one input (q/k/v, gate/up); slot 0 is loaded as an output
    head (no interleaved copy), the others as layer weights (interleaved where it applies)."""
    rng = np.random.default_rng(3)
    ws = [weight(rng, t, rows, cols) for (rows, cols), t in zip(shapes, type_ids)]
    cols = shapes[0][1]
    r.load([ws[0]] + ws)
    x = r.alloc("act", 64, cols)
    r.write(x, rng.standard_normal(64 * cols).astype(np.float32))
    ys = [r.alloc("act", 64, rows) for rows, _ in shapes]
    r.chunk(list(range(T)), list(range(T)), [0] * T)
    out = {}
    for first in (0, 1):  # the head slot alone, then the layer slots together
        idx = [0] if first == 0 else list(range(1, len(ws) + 1))
        r.run("matmul", T=T, src=x, weights=idx, dst=ys[:len(idx)])
        for i, (rows, _) in enumerate(shapes[:len(idx)]):
            out[f"y{first}{i}"] = r.read(ys[i], T * rows)
    return out


def case_head(r, type_id, rows, cols, T):
    """The output head: a matmul into the output buffer, which stands for the caller's array."""
    rng = np.random.default_rng(11)
    r.load([weight(rng, type_id, rows, cols)])
    x, out = r.alloc("act", 64, cols), r.alloc("output", 64, rows)
    r.write(x, rng.standard_normal(64 * cols).astype(np.float32))
    r.chunk(list(range(T)), list(range(T)), [0] * T)
    host = np.zeros(64 * rows, np.float32)
    r.run("matmul", T=T, src=x, weights=[0], dst=[out], output=host)
    return {"logits": host[:T * rows]}


def kv_write(r, kv, values):
    """values: the K pages then the V pages (each half written on its own)."""
    half = len(values) // 2
    r.write(kv, values[:half])
    r.write(kv, values[half:], offset=half)


def kv_read(r, kv, n):
    return np.concatenate([r.read(kv, n // 2), r.read(kv, n // 2, offset=n // 2)])


def fill_positions(r, seqs_lengths, n_batch):
    for seq, n in seqs_lengths:
        pos = 0
        while pos < n:
            k = min(n_batch, n - pos)
            r.chunk([1] * k, list(range(pos, pos + k)), [seq] * k)
            pos += k


KV_PAGES = 2 * ((2048 + 127) // 128)  # two sequences of n_ctx 2048


def paged_kv(r, shape, layer, tokens):
    """A KV buffer for layer, with each sequence of tokens ([(seq, pos), ...]) given pages up
    to its first position; returns (buffer, floats per position)."""
    KV = shape["n_head_kv"] * shape["head_dim"]
    kv = r.alloc("kv", KV_PAGES * 128, KV, layer=layer)
    firsts = {}
    for s, p in tokens:
        firsts.setdefault(s, p)
    fill_positions(r, sorted(firsts.items()), 64)
    return kv, KV


def case_attention(r, shape, layer, tokens):
    """tokens: [(seq, pos), ...] of the chunk; K/V pages hold random values everywhere."""
    rng = np.random.default_rng(4)
    d, H = shape["head_dim"], shape["n_head"]
    kv, KV = paged_kv(r, shape, layer, tokens)
    n_pages = KV_PAGES
    kv_write(r, kv, rng.standard_normal(2 * n_pages * 128 * KV).astype(np.float32))
    T = len(tokens)
    r.chunk([1] * T, [p for _, p in tokens], [s for s, _ in tokens])
    q, att = r.alloc("act", 64, H * d), r.alloc("act", 64, H * d)
    r.write(q, rng.standard_normal(64 * H * d).astype(np.float32))
    r.run("attention", T=T, layer=layer, kv_layer=layer, src=q, src2=kv, dst=[att])
    return {"att": r.read(att, T * H * d)}


def case_qk_rope_store(r, shape, layer, tokens, store=True):
    rng = np.random.default_rng(5)
    d, H = shape["head_dim"], shape["n_head"]
    kvb, KV = paged_kv(r, shape, layer, tokens)
    n_pages = KV_PAGES
    T = len(tokens)
    r.chunk([1] * T, [p for _, p in tokens], [s for s, _ in tokens])
    q, k, v = r.alloc("act", 64, H * d), r.alloc("act", 64, KV), r.alloc("act", 64, KV)
    for b, w in ((q, H * d), (k, KV), (v, KV)):
        r.write(b, rng.standard_normal(64 * w).astype(np.float32))
    norms = dict(norm=rng.standard_normal(d).astype(np.float32), norm2=rng.standard_normal(d).astype(np.float32)) \
        if shape["qk_norm"] else {}
    r.run("qk_rope_store", T=T, layer=layer, kv_layer=layer, src=q, src2=k if store else -1,
          src3=v if store else -1, dst=[kvb], **norms)
    out = {"q": r.read(q, T * H * d)}
    if store:
        out["k"], out["v"] = r.read(k, T * KV), r.read(v, T * KV)
        out["kv"] = kv_read(r, kvb, 2 * n_pages * 128 * KV)
    return out


def case_glu(r, F, T):
    rng = np.random.default_rng(6)
    g, u = r.alloc("act", 16, F), r.alloc("act", 16, F)
    r.write(g, rng.standard_normal(16 * F).astype(np.float32) * 3)
    r.write(u, rng.standard_normal(16 * F).astype(np.float32))
    r.chunk(list(range(T)), list(range(T)), [0] * T)
    r.run("glu", T=T, width=F, src=u, dst=[g])
    return {"g": r.read(g, T * F)}


def case_residual_add(r, D, T, normed):
    rng = np.random.default_rng(7)
    o, x = r.alloc("act", 16, D), r.alloc("act", 16, D)
    r.write(o, rng.standard_normal(16 * D).astype(np.float32))
    r.write(x, rng.standard_normal(16 * D).astype(np.float32))
    r.chunk(list(range(T)), list(range(T)), [0] * T)
    r.run("residual_add", T=T, width=D, src=o, dst=[x],
          norm=rng.standard_normal(D).astype(np.float32) if normed else None)
    return {"x": r.read(x, T * D), "o": r.read(o, T * D)}


def case_softcap(r, V, T, cap):
    rng = np.random.default_rng(8)
    x = r.alloc("act", 4, V)
    r.write(x, (rng.standard_normal(4 * V) * 40).astype(np.float32))
    r.chunk(list(range(T)), list(range(T)), [0] * T)
    r.run("softcap", T=T, width=V, dst=[x], cap=cap)
    return {"x": r.read(x, T * V)}


def case_output_rows(r, V, T):
    """The output buffer stands for host memory: the rows an op writes there reach the
    caller's array at the end of the chunk (a device backend copies them back)."""
    rng = np.random.default_rng(10)
    x, out = r.alloc("act", 4, V), r.alloc("output", 4, V)
    r.write(x, rng.standard_normal(4 * V).astype(np.float32))
    r.chunk(list(range(T)), list(range(T)), [0] * T)
    host = np.zeros(4 * V, np.float32)
    r.run("rms_norm", T=T, width=V, src=x, dst=[out], norm=np.ones(V, np.float32), output=host)
    return {"host": host}


def case_kv_copy(r, shape):
    """A fork shares pages; the first chunk written after it asks for a copy of the
    shared page, which kv_copy makes."""
    rng = np.random.default_rng(9)
    KV = shape["n_head_kv"] * shape["head_dim"]
    n_pages = 2 * 16
    kv = r.alloc("kv", n_pages * 128, KV, layer=0)
    fill_positions(r, [(0, 200)], 64)
    kv_write(r, kv, rng.standard_normal(2 * n_pages * 128 * KV).astype(np.float32))
    r.fork(0, 1)
    copies = r.chunk([1], [200], [1])
    assert [c for c in copies if c[0] == 0], "writing into a shared page must ask for a copy"
    for layer, src, dst in copies:
        if layer == 0:
            r.run("kv_copy", T=0, layer=0, kv_layer=0, dst=[kv], page_src=src, page_dst=dst)
            assert r.pages(1, 0)[1] == dst and r.pages(0, 0)[1] == src
    return {"kv": kv_read(r, kv, 2 * n_pages * 128 * KV)}


CASES = {  # id: (op, hparams, runner kwargs, case function, its arguments)
    # K-quant rows need widths of 256s: Gemma 3 4B's 2560
    **{f"get_rows-{t}": ("get_rows", hparams(GEMMA), {}, case_get_rows, (t, 2560 if t in (Q4_K, Q5_K, Q6_K) else 640))
       for t in (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K)},
    # a table bound in row ranges: the Vulkan backend splits tensors at GA_VK_MAX_RANGE bytes
    # (the device's maxStorageBufferRange: 128 MiB on lavapipe, under the default model's
    # 170 MiB embedding)
    **{f"get_rows-ranges-{t}": ("get_rows", hparams(GEMMA), dict(env={"GA_VK_MAX_RANGE": "65536"}), case_get_rows,
                                (t, 640)) for t in (Q8_0, Q4_0)},
    **{f"matmul-head-{t}-T{T}": ("matmul", hparams(GEMMA), dict(n_batch=64), case_head, (t, 1000, 640, T))
       for t in (Q8_0, Q4_0) for T in (1, 40)},
    # decode's matvec in its GPU form (16 invocations per row; lavapipe takes one per row)
    **{f"matmul-lanes-{t}-T{T}": ("matmul", hparams(GEMMA), dict(n_batch=64, env={"GA_VK_MATVEC": "lanes"}),
                                  case_matmul, ([(640, 2048)], [t], T)) for t in (Q5_0, Q8_0, Q4_K, Q6_K) for T in (1, 3)},
    # ...and an output head in row ranges, writing an output buffer of two parts
    **{f"matmul-head-ranges-T{T}": ("matmul", hparams(GEMMA), dict(n_batch=64, env={"GA_VK_MAX_RANGE": "262144"}),
                                    case_head, (Q8_0, 2000, 640, T)) for T in (1, 40)},
    **{f"rms_norm-D{D}-T{T}": ("rms_norm", hparams(GEMMA), {}, case_rms_norm, (D, T, 3))
       for D in (640, 576) for T in (1, 7)},
    # the default model's weights: Q5_0 q/k/v, Q8_0 down, Q4_K/Q6_K in other files
    **{f"matmul-gemma-qkv-{t}-T{T}": ("matmul", hparams(GEMMA), dict(n_batch=64), case_matmul,
                                      ([(1024, 640), (256, 640), (256, 640)], [t] * 3, T))
       for t in (Q5_0, Q4_0, Q8_0, F16, BF16) for T in (1, 3, 64)},
    # K-quants need widths of 256s: the down projection's 2048
    **{f"matmul-gemma-down-{t}-T{T}": ("matmul", hparams(GEMMA), dict(n_batch=64), case_matmul,
                                       ([(640, 2048)], [t], T)) for t in (Q8_0, Q4_K, Q5_K, Q6_K) for T in (1, 17, 64)},
    # SmolLM2: widths of 576 (no K-quants) and a row tail of 1000 rows
    **{f"matmul-smollm2-{t}-T{T}": ("matmul", hparams(SMOLLM), dict(n_batch=64), case_matmul,
                                    ([(1000, 576), (192, 576)], [t, t], T))
       for t in (Q8_0, Q5_0, Q4_0, Q4_1, Q5_1, F32) for T in (1, 5)},
    "matmul-act8": ("matmul", hparams(GEMMA), dict(n_batch=64, act_bits=8), case_matmul,
                    ([(1024, 640)], [Q5_0], 1)),
    **{f"qk_rope_store-{name}-L{layer}-{which}": (
        "qk_rope_store", hparams(shape), dict(n_seq=2, n_ctx=2048), case_qk_rope_store, (shape, layer, toks))
       for name, shape in (("gemma", GEMMA), ("smollm2", SMOLLM)) for layer in (0, 1)
       for which, toks in (("decode", [(0, 700)]), ("pages", [(0, 120 + i) for i in range(20)]),
                           ("two-seqs", [(0, 5), (1, 300), (0, 6), (1, 301)]))},
    "qk_rope_store-shared-kv": ("qk_rope_store", hparams(GEMMA), {}, case_qk_rope_store,
                                (GEMMA, 0, [(0, i) for i in range(5)], False)),
    **{f"attention-{name}-L{layer}-{which}": (
        "attention", hparams(shape, cap), dict(n_seq=2, n_ctx=2048, n_threads=2), case_attention,
        (shape, layer, toks))
       for name, shape, cap in (("gemma", GEMMA, 0.0), ("gemma-softcap", GEMMA, 50.0), ("smollm2", SMOLLM, 0.0))
       for layer in (0, 1)
       for which, toks in (("decode-short", [(0, 20)]), ("decode-long", [(0, 900)]),
                           ("prefill", [(0, 100 + i) for i in range(64)]),
                           ("two-seqs", [(0, 700), (1, 30), (0, 701), (1, 31)]))},
    **{f"glu-{name}-T{T}": ("glu", hparams(shape), {}, case_glu, (shape["n_ff"], T))
       for name, shape in (("gelu", GEMMA), ("silu", SMOLLM)) for T in (1, 9)},
    **{f"residual_add-{n}-T{T}": ("residual_add", hparams(GEMMA), {}, case_residual_add, (640, T, n == "normed"))
       for n in ("plain", "normed") for T in (1, 9)},
    **{f"softcap-T{T}": ("softcap", hparams(GEMMA), {}, case_softcap, (1000, T, 30.0)) for T in (1, 3)},
    "rms_norm-into-output": ("rms_norm", hparams(GEMMA), {}, case_output_rows, (1000, 3)),
    "kv_copy": ("kv_copy", hparams(GEMMA), dict(n_seq=2, n_ctx=2048), case_kv_copy, (GEMMA,)),
}


def run_case(target, case_id):
    """The case's outputs on target, or None when the target does not run its op."""
    op, hp, kw, fn, args = CASES[case_id]
    if target[0] != "cpu" and kw.get("act_bits") == 8:
        return None  # act_bits is the CPU's activation quantization: other backends keep f32
    with Runner(target, hp, **dict(kw)) as r:
        if not r.supports(op):
            return None
        before = _core.vulkan_validation_messages()[0]
        out = fn(r, *args)
        count, last = _core.vulkan_validation_messages()
        assert count == before, f"{target} {case_id}: the Vulkan validation layer said: {last}"
        return out


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_op_matches_portable_kernels(case_id):
    if not TARGETS:
        pytest.skip("only the portable kernel set runs here: nothing to compare")
    ref = run_case(REFERENCE, case_id)
    op = CASES[case_id][0]
    ran = 0
    for target in TARGETS:
        out = run_case(target, case_id)
        if out is None:
            continue  # not (yet) an op of this backend: a model needing it runs on the CPU
        ran += 1
        assert out.keys() == ref.keys()
        for name in ref:
            assert np.isfinite(out[name]).all(), f"{target} {case_id} {name}: not finite"
            err = nmse(out[name], ref[name])
            assert err <= NMSE_BOUND[op], f"{target} {case_id} {name}: NMSE {err:.2e} > {NMSE_BOUND[op]:.0e}"
    assert ran or not any(t[0] == "cpu" for t in TARGETS), "the CPU kernel sets run every op"


def test_every_op_has_cases():
    assert {c[0] for c in CASES.values()} == set(_core.op_names())


def test_ops_refuse_bad_arguments():
    """A backend op never reads or writes outside its buffers: bad shapes, handles, layers
    and pages raise ValueError."""
    with Runner(("cpu", None), hparams(GEMMA), n_seq=2, n_ctx=512) as r:
        x, y = r.alloc("act", 4, 640), r.alloc("act", 4, 640)
        kv = r.alloc("kv", 8 * 128, 256, layer=0)
        r.chunk([1, 2], [0, 1], [0, 0])
        bad = [
            (dict(op="rms_norm", T=2, width=640, src=x, dst=[99], norm=np.ones(640, np.float32)), "no such buffer"),
            (dict(op="rms_norm", T=2, width=640, src=x, src_row0=3, dst=[y], norm=np.ones(640, np.float32)),
             "overrun"),
            (dict(op="rms_norm", T=2, width=640, src=x, dst=[y]), "without a weight"),
            (dict(op="glu", T=2, width=1281, src=x, dst=[y]), "overrun"),
            (dict(op="softcap", T=1, width=640, dst=[x], cap=0.0), "cap > 0"),
            (dict(op="kv_copy", dst=[kv], page_src=0, page_dst=8), "outside 0..7"),
            (dict(op="kv_copy", dst=[x], page_src=0, page_dst=1), "not a KV buffer"),
            (dict(op="attention", T=2, layer=0, kv_layer=0, src=x, src2=x, dst=[y]), "not a KV buffer"),
            (dict(op="attention", T=3, layer=0, kv_layer=0, src=x, src2=kv, dst=[y]), "outside a chunk"),
            (dict(op="qk_rope_store", T=2, layer=5, kv_layer=0, src=x, dst=[kv]), "outside the model"),
            (dict(op="matmul", T=2, src=x, weights=[0], dst=[y]), "no loaded weight"),
            (dict(op="nonsense"), "no op named"),
        ]
        for kwargs, match in bad:
            with pytest.raises(ValueError, match=match):
                r.run(**kwargs)
        with pytest.raises(ValueError, match="outside buffer"):
            r.write(x, np.ones(4 * 640 + 1, np.float32))
        with pytest.raises(ValueError, match="outside buffer"):
            r.read(kv, 10, offset=2 * 8 * 128 * 256 - 5)
        with pytest.raises(ValueError, match="does not continue"):
            r.chunk([1], [5], [0])
        with pytest.raises(ValueError, match="kind must be"):
            r.alloc("gpu", 1, 1)
