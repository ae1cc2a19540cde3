"""awq-lite: activation-aware per-input-channel scales, folded into the preceding norms.

For each layer and each norm -> matrices group (attn_norm -> attn_q/k/v,
ffn_norm -> ffn_gate/up), with X the norm's output on calibration text:

    s = mean|X|^alpha / sqrt(max * min)             per input channel
    alpha = argmin over ALPHAS of  sum_W || X W^T - X (Q(W diag s) diag s^-1)^T ||^2

then W <- W diag(s) and norm <- norm / s, so the float model is unchanged and
the file is plain GGUF.  The norm is GGUF's effective multiplier (Gemma: 1 + w),
so the fold is exact for every architecture.  alpha = 0 is plain
round-to-nearest, so on the calibration text the search never does worse.
(Lin et al., AWQ, MLSys 2024, without its clipping search.)
"""
from __future__ import annotations

import numpy as np

from .. import block_formats
from .profiles import base_choice

ALPHAS = tuple(i / 20 for i in range(20))
GROUPS = (("attn_norm", ("attn_q", "attn_k", "attn_v")), ("ffn_norm", ("ffn_gate", "ffn_up")))


def _fake_quant(w: np.ndarray, type_name: str) -> np.ndarray:
    return block_formats.dequantize(block_formats.quantize(w, type_name), type_name, w.shape)


def _read(source, name):
    t = source.tensor(name)
    w = t.read()
    t.release(0, t.n_rows)
    return w


def search_scales(source, stats, exclude=frozenset()):
    """({matrix name: s}, {norm name: s}, {"L3.attn": alpha, ...}) for every layer not excluded."""
    col, norm, alphas = {}, {}, {}
    for layer in range(source.hparams["n_layer"]):
        if layer in exclude:
            continue
        for norm_kind, kinds in GROUPS:
            names = [f"blk.{layer}.{k}.weight" for k in kinds]
            x = stats.samples[names[0]]
            act = np.maximum(stats.mean_abs[names[0]].astype(np.float64), 1e-8)
            ws = [_read(source, n) for n in names]
            types = [base_choice("awq-lite", n, w.shape, False).type for n, w in zip(names, ws)]
            if any(t in ("F16", "F32") for t in types):
                continue
            ref = [x @ w.T for w in ws]
            best = (np.inf, 0.0, None)
            for alpha in ALPHAS:
                s = act ** alpha
                s = (s / np.sqrt(s.max() * s.min())).astype(np.float32)
                err = 0.0
                for w, t, r in zip(ws, types, ref):
                    wq = _fake_quant(w * s[None, :], t) / s[None, :]
                    err += float(((x @ wq.T - r) ** 2).sum())
                if err < best[0]:
                    best = (err, alpha, s)
            _, alpha, s = best
            alphas[f"L{layer}.{norm_kind}"] = alpha
            if alpha > 0:
                for n in names:
                    col[n] = s
                norm[f"blk.{layer}.{norm_kind}.weight"] = s
    return col, norm, alphas
