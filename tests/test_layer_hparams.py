"""Per-layer hyperparameters (ga_layer_hparams): head counts, head_dim, n_ff, the sliding
window, RoPE base and KV sharing may differ by layer, as in Gemma 3n/4.

A tiny float32 model whose three layers differ in every one of them runs in the C model and
in an independent NumPy forward pass written here from the Gemma 3 equations (embedding
scale, RMSNorm, q/k norms, NeoX RoPE, grouped-query attention with a softcap and a sliding
window, post norms, GELU-tanh GLU, final softcap).  Its last layer reads the first layer's
KV (kv_from) and has no k/v weights of its own.
"""
import numpy as np
import pytest

from gemma_accel import _core

D, V, EPS, WINDOW = 32, 50, 1e-6, 5
ATTN_SCALE, ATTN_CAP, FINAL_CAP = 0.3, 20.0, 15.0
LAYERS = [  # n_head, n_head_kv, head_dim, n_ff, swa, kv_from, rope_base
    dict(n_head=4, n_head_kv=2, head_dim=8, n_ff=48, swa=0, kv_from=0, rope_base=10000.0),
    dict(n_head=2, n_head_kv=1, head_dim=16, n_ff=64, swa=1, kv_from=1, rope_base=500.0),
    dict(n_head=4, n_head_kv=2, head_dim=8, n_ff=24, swa=0, kv_from=0, rope_base=10000.0),
]
# float32 products in a different order than NumPy's float64: measured max |diff| ~2e-6
MAX_ABS_DIFF = 1e-4


def _hparams():
    hp = dict(arch=3, n_layer=len(LAYERS), n_embd=D, n_vocab=V, norm_eps=EPS, rope_neox=1,
              sliding_window=WINDOW, attn_scale=ATTN_SCALE, attn_softcap=ATTN_CAP, final_softcap=FINAL_CAP,
              embed_scale=1, act_gelu=1, post_norms=1, qk_norm=1,
              n_head=4, n_head_kv=2, head_dim=8, n_ff=48, rope_base=10000.0, rope_freq_scale=1.0,
              rope_base_swa=500.0, rope_freq_scale_swa=1.0)
    hp["layer_swa"] = [L["swa"] for L in LAYERS]
    for key in ("n_head", "n_head_kv", "head_dim", "n_ff", "kv_from"):
        hp["layer_" + key] = [L[key] for L in LAYERS]
    return hp


def _weights(rng):
    def mat(rows, cols):
        return (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.3 * rng.standard_normal(n)).astype(np.float32)

    w = {"token_embd": mat(V, D), "output_norm": norm(D)}
    for l, L in enumerate(LAYERS):
        H, Hkv, d, F = L["n_head"], L["n_head_kv"], L["head_dim"], L["n_ff"]
        w[f"blk.{l}.attn_q"] = mat(H * d, D)
        if L["kv_from"] == l:
            w[f"blk.{l}.attn_k"] = mat(Hkv * d, D)
            w[f"blk.{l}.attn_v"] = mat(Hkv * d, D)
        w[f"blk.{l}.attn_output"] = mat(D, H * d)
        w[f"blk.{l}.ffn_gate"] = mat(F, D)
        w[f"blk.{l}.ffn_up"] = mat(F, D)
        w[f"blk.{l}.ffn_down"] = mat(D, F)
        for name, n in (("attn_norm", D), ("ffn_norm", D), ("post_attention_norm", D), ("post_ffw_norm", D),
                        ("attn_q_norm", d), ("attn_k_norm", d)):
            w[f"blk.{l}.{name}"] = norm(n)
    return w


def _core_table(w):
    """The weights as _core.Model takes them: matrices as (buffer, type F32, rows, cols)."""
    return {k: (a, 0, a.shape[0], a.shape[1]) if a.ndim == 2 else a for k, a in w.items()}


def _core_model(w, n_batch, **kw):
    return _core.Model(_hparams(), _core_table(w), 64, n_batch, 2, **kw)


# ------------------------------------------------------------------ the NumPy reference

def _rms(x, g):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + EPS) * g


def _rope(x, pos, base):
    """NeoX RoPE of x [T, heads, d] at positions pos [T]: pairs (i, i + d/2)."""
    d = x.shape[-1]
    inv = base ** (-np.arange(0, d // 2) * 2.0 / d)
    ang = pos[:, None, None] * inv[None, None, :]
    a, b = x[..., :d // 2], x[..., d // 2:]
    return np.concatenate([a * np.cos(ang) - b * np.sin(ang), a * np.sin(ang) + b * np.cos(ang)], axis=-1)


def _gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def reference_logits(w, ids):
    w = {k: v.astype(np.float64) for k, v in w.items()}
    T = len(ids)
    pos = np.arange(T, dtype=np.float64)
    x = w["token_embd"][ids] * np.sqrt(D)
    kv = {}
    for l, L in enumerate(LAYERS):
        H, Hkv, d = L["n_head"], L["n_head_kv"], L["head_dim"]
        h = _rms(x, w[f"blk.{l}.attn_norm"])
        q = (h @ w[f"blk.{l}.attn_q"].T).reshape(T, H, d)
        q = _rope(_rms(q, w[f"blk.{l}.attn_q_norm"]), pos, L["rope_base"])
        if L["kv_from"] == l:
            k = (h @ w[f"blk.{l}.attn_k"].T).reshape(T, Hkv, d)
            k = _rope(_rms(k, w[f"blk.{l}.attn_k_norm"]), pos, L["rope_base"])
            kv[l] = (k, (h @ w[f"blk.{l}.attn_v"].T).reshape(T, Hkv, d))
        k, v = kv[L["kv_from"]]
        att = np.zeros((T, H, d))
        for t in range(T):
            lo = max(0, t - WINDOW + 1) if L["swa"] else 0
            for hd in range(H):
                g = hd // (H // Hkv)
                s = k[lo:t + 1, g] @ q[t, hd] * ATTN_SCALE
                s = ATTN_CAP * np.tanh(s / ATTN_CAP)
                p = np.exp(s - s.max())
                att[t, hd] = (p / p.sum()) @ v[lo:t + 1, g]
        o = att.reshape(T, H * d) @ w[f"blk.{l}.attn_output"].T
        x = x + _rms(o, w[f"blk.{l}.post_attention_norm"])
        h = _rms(x, w[f"blk.{l}.ffn_norm"])
        a = _gelu_tanh(h @ w[f"blk.{l}.ffn_gate"].T) * (h @ w[f"blk.{l}.ffn_up"].T)
        x = x + _rms(a @ w[f"blk.{l}.ffn_down"].T, w[f"blk.{l}.post_ffw_norm"])
    logits = _rms(x, w["output_norm"]) @ w["token_embd"].T
    return FINAL_CAP * np.tanh(logits / FINAL_CAP)


# ------------------------------------------------------------------------------ tests

@pytest.mark.parametrize("n_batch", [1, 4, 16])
def test_layers_of_different_shapes_match_numpy(n_batch):
    """Prefill in chunks of n_batch (1: every token alone, the decode path) against the
    reference: 12 tokens cross the 5-token window of the sliding layer."""
    rng = np.random.default_rng(7)
    w = _weights(rng)
    ids = rng.integers(0, V, 12).tolist()
    ref = reference_logits(w, ids)
    m = _core_model(w, n_batch)
    out = np.concatenate([m.eval(ids[s:s + n_batch], logits="all") for s in range(0, len(ids), n_batch)])
    assert np.abs(out - ref).max() < MAX_ABS_DIFF
    assert m.n_past == len(ids)


def test_kv_sharing_layer_reads_the_source_layers_cache():
    """The last layer reads layer 0's KV: giving it its own k/v weights changes nothing (they
    are not used), and pointing it at itself instead does."""
    rng = np.random.default_rng(8)
    w = _weights(rng)
    ids = rng.integers(0, V, 9).tolist()
    shared = _core_model(w, 4).eval(ids, logits="all")
    w2 = dict(w)
    w2["blk.2.attn_k"] = np.ones((16, D), np.float32)
    w2["blk.2.attn_v"] = np.ones((16, D), np.float32)
    assert np.array_equal(_core_model(w2, 4).eval(ids, logits="all"), shared)
    hp = _hparams()
    hp["layer_kv_from"] = [0, 1, 2]
    own = _core.Model(hp, _core_table(w2), 64, 4, 2).eval(ids, logits="all")
    assert np.abs(own - shared).max() > 1e-3


@pytest.mark.parametrize("change,match", [
    ({"layer_kv_from": [0, 1, 3]}, "reads the KV of layer 3"),
    ({"layer_kv_from": [0, 1, 1]}, "cannot read the KV of layer 1"),
    ({"layer_kv_from": [0, 1, -1]}, "reads the KV of layer -1"),
    ({"layer_head_dim": [8, 15, 8]}, "attn_q_norm: expected 15 "),
    ({"layer_n_head_kv": [2, 3, 2]}, "layer 1: n_head 2 is not a multiple of n_head_kv 3"),
    ({"layer_n_ff": [48, 64]}, "layer_n_ff needs one entry per layer"),
    ({"layer_n_ff": [48, 0, 24]}, "layer 1: invalid dimensions"),
    ({"layer_n_ff": [48, 65, 24]}, "ffn_gate is 64x32, expected 65x32"),
])
def test_hostile_layer_hparams_are_refused(change, match):
    w = _weights(np.random.default_rng(9))
    hp = _hparams()
    hp.update(change)
    with pytest.raises((ValueError, _core.ModelFormatError), match=match):
        _core.Model(hp, _core_table(w), 64, 4, 2)
