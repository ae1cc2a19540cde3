"""Measured sensitivity: the KL divergence each matrix adds when quantized, predicted from calibration.

    m = measure(source, ids, base, promoted)         # base/promoted: {name: ggml type}
    m.scores["blk.3.attn_v.weight"].kl_base          # predicted KL with only this matrix at its base type
    promote, kl = choose(m.scores, extra, budget)    # names worth their promoted type, within a byte budget

Method (one pass over the layers, one layer's float32 weights in memory at a time):
  1. the clean decoder runs on the calibration tokens (calibration.Forward);
  2. in each block, each matrix t in turn is replaced by its round trip through
     its base type and the block re-run on a sample of query rows;
         d_t = mean over sampled tokens of ||block(h; Q(W_t)) - block(h)||^2 / ||h_out||^2
     is the relative perturbation that t alone puts into the residual stream;
  3. a second trajectory runs with every matrix at its base type.
At the end the output head's logits (in vocabulary chunks, log-sum-exp streamed)
give KL_head (clean hidden states, head at its base type) and KL_all (the
all-base trajectory against the clean one).  KL is quadratic in small
perturbations, so they add, and
         beta = (KL_all - KL_head) / sum_t d_t
converts residual perturbation into KL: KL_t(base) = beta * d_t.  A matrix's KL
at its promoted type is KL_t(base) * e_t(promoted) / e_t(base), with
e_t(T) = sum_ij (W - Q_T(W))_ij^2 E[x_j^2] (x: the matrix's calibration inputs).
The tied embedding's score is the head's measured KL plus its input-side d.
The ranking is checked against KL measured in the C engine with one tensor kind
quantized (tests/test_quantize_sensitivity.py, benchmarks/results/quant_sensitivity.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import block_formats
from .calibration import Forward, head_name, load_layer

SCORE_TOKENS = 512    # calibration tokens run through the model
SCORE_ROWS = 128      # sampled query positions per block perturbation and for the head
HEAD_CHUNK_ROWS = 4096   # vocabulary rows per head chunk (4096 x 640 float32 = 10 MiB)
_ATTN = ("attn_q", "attn_k", "attn_v", "attn_output")
_FFN = ("ffn_gate", "ffn_up", "ffn_down")


@dataclass
class TensorScore:
    name: str
    base: str            # type the profile stores it at unless promoted
    promoted: str        # the type it is promoted to
    kl_base: float       # predicted KL divergence (nats/token) with only this tensor at base
    kl_promoted: float   # ... at the promoted type
    d: float = 0.0       # measured relative residual perturbation at base (0 for the head)


@dataclass
class Measurement:
    scores: dict          # {name: TensorScore}
    beta: float           # KL per unit of relative residual perturbation
    kl_head: float        # measured: head alone at its base type
    kl_all: float         # measured: every scored tensor at its base type
    n_rows: int           # scored token positions


def fake_quant(w: np.ndarray, type_name: str) -> np.ndarray:
    if type_name in ("F32", "F16", "BF16"):
        return w
    return block_formats.dequantize(block_formats.quantize(w, type_name), type_name, w.shape)


def _err(w, wq, mean_sq) -> float:
    e = w - wq
    e *= e
    return float((e @ mean_sq.astype(np.float32)).sum(dtype=np.float64))


class _StreamKL:
    """Mean KL(p || q) per row over a vocabulary seen in chunks of logits (online log-sum-exp)."""

    def __init__(self, n):
        self.mp = np.full(n, -np.inf)
        self.sp = np.zeros(n)
        self.ap = np.zeros(n)
        self.mq = np.full(n, -np.inf)
        self.sq = np.zeros(n)

    def update(self, zp, zq):
        zp, zq = zp.astype(np.float64), zq.astype(np.float64)
        mp = np.maximum(self.mp, zp.max(axis=1))
        k = np.exp(self.mp - mp)
        e = np.exp(zp - mp[:, None])
        self.sp = self.sp * k + e.sum(axis=1)
        self.ap = self.ap * k + (e * (zp - zq)).sum(axis=1)
        self.mp = mp
        mq = np.maximum(self.mq, zq.max(axis=1))
        self.sq = self.sq * np.exp(self.mq - mq) + np.exp(zq - mq[:, None]).sum(axis=1)
        self.mq = mq

    def mean(self) -> float:
        kl = self.ap / self.sp - (self.mp + np.log(self.sp)) + (self.mq + np.log(self.sq))
        return float(np.maximum(kl, 0.0).mean())


def _rel(delta, h_out) -> float:
    return float(np.mean((delta.astype(np.float64) ** 2).sum(1) / (h_out.astype(np.float64) ** 2).sum(1)))


def measure(source, ids, base: dict, promoted: dict, *, score_rows: int = SCORE_ROWS) -> Measurement:
    """Scores every matrix named in base (at its base type) whose promoted type differs; matrices
    absent from base (excluded layers) stay at source precision in both trajectories."""
    fw, hp = Forward(source), source.hparams
    n = len(ids)
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(np.arange(1, n), min(score_rows, n - 1), replace=False))  # skip BOS
    head = head_name(source)
    mean_sq, d, err = {}, {}, {}

    def hook(name, x):
        mean_sq[name] = (x.astype(np.float64) ** 2).mean(axis=0)

    def scored(name):
        return name in base and base[name] != promoted.get(name, base[name])

    # ---- embedding: clean rows and their base-type round trip (input side)
    t_emb = source.tensor("token_embd.weight")
    h = fw.embed(ids)
    emb_type = base["token_embd.weight"] if scored("token_embd.weight") else "F32"
    hq = fw.embed(ids, rows_of=lambda r0, r1: fake_quant(t_emb.read_rows(r0, r1), emb_type))
    d_emb = _rel((hq - h)[rows], h[rows])

    # ---- layers
    for layer in range(hp["n_layer"]):
        W = load_layer(source, layer)
        names = {k: f"blk.{layer}.{k}.weight" for k in _ATTN + _FFN}
        Wq = {k: fake_quant(W[k], base[names[k]] if scored(names[k]) else "F32") for k in _ATTN + _FFN}
        # clean block, full rows (records the matrices' input statistics)
        a = fw.attention(h, W, layer, hook=hook)
        h1 = (h + a).astype(np.float32)
        f = fw.ffn(h1, W, layer, hook=hook)
        h2 = (h1 + f).astype(np.float32)
        # one matrix at a time, sampled rows
        for k in _ATTN:
            if scored(names[k]):
                ak = fw.attention(h, dict(W, **{k: Wq[k]}), layer, rows=rows)
                d[names[k]] = _rel(ak - a[rows], h1[rows])
        for k in _FFN:
            if scored(names[k]):
                fk = fw.ffn(h1[rows], dict(W, **{k: Wq[k]}), layer)
                d[names[k]] = _rel(fk - f[rows], h2[rows])
        for k in _ATTN + _FFN:
            nm = names[k]
            if nm in d:
                wp = fake_quant(W[k], promoted[nm])
                err[nm] = (_err(W[k], Wq[k], mean_sq[nm]), _err(W[k], wp, mean_sq[nm]))
        # the all-base trajectory
        Wall = dict(W, **Wq)
        hq = (hq + fw.attention(hq, Wall, layer)).astype(np.float32)
        hq = (hq + fw.ffn(hq, Wall, layer)).astype(np.float32)
        h = h2
        del W, Wq, Wall

    # ---- head: KL_head (clean hidden, base head) and KL_all (all-base trajectory), vocabulary chunks
    x = fw.final_norm(h)
    hook("head", x)
    x, xq = x[rows], fw.final_norm(hq)[rows]
    t_head = source.tensor(head)
    head_type = base[head] if scored(head) else "F32"
    head_prom = promoted[head] if scored(head) else "F32"
    kl_head, kl_all = _StreamKL(len(rows)), _StreamKL(len(rows))
    e_head = [0.0, 0.0]
    softcap = hp.get("final_softcap") or 0.0

    def logits(xx, w):
        z = xx @ w.T
        return np.tanh(z / softcap) * softcap if softcap else z

    for r0 in range(0, t_head.n_rows, HEAD_CHUNK_ROWS):
        r1 = min(t_head.n_rows, r0 + HEAD_CHUNK_ROWS)
        w = t_head.read_rows(r0, r1)
        t_head.release(r0, r1)
        wq = fake_quant(w, head_type)
        z = logits(x, w)
        kl_head.update(z, logits(x, wq))
        kl_all.update(z, logits(xq, wq))
        e_head[0] += _err(w, wq, mean_sq["head"])
        e_head[1] += _err(w, fake_quant(w, head_prom), mean_sq["head"])
        del w, wq, z
    KL_head, KL_all = kl_head.mean(), kl_all.mean()
    total_d = sum(d.values()) + d_emb
    beta = max(KL_all - KL_head, 0.0) / total_d if total_d > 0 else 0.0

    scores = {}
    for nm, dd in d.items():
        eb, ep = err[nm]
        kb = beta * dd
        scores[nm] = TensorScore(nm, base[nm], promoted[nm], kb, kb * ep / eb if eb > 0 else 0.0, dd)
    if scored(head):
        ratio = e_head[1] / e_head[0] if e_head[0] > 0 else 0.0
        kb = KL_head + (beta * d_emb if head == "token_embd.weight" else 0.0)
        scores[head] = TensorScore(head, head_type, head_prom, kb, kb * ratio, d_emb)
    if head != "token_embd.weight" and scored("token_embd.weight"):
        # untied input embedding: input side only; promoted error scales like the head's would
        tp = promoted.get("token_embd.weight", emb_type)
        sample = t_emb.read_rows(0, min(t_emb.n_rows, HEAD_CHUNK_ROWS))
        t_emb.release(0, t_emb.n_rows)
        eb = float(((sample - fake_quant(sample, emb_type)) ** 2).sum())
        ep = float(((sample - fake_quant(sample, tp)) ** 2).sum())
        kb = beta * d_emb
        scores["token_embd.weight"] = TensorScore("token_embd.weight", emb_type, tp, kb,
                                                  kb * ep / eb if eb > 0 else 0.0, d_emb)
    return Measurement(scores, beta, KL_head, KL_all, len(rows))


def choose(scores: dict, extra_bytes: dict, budget: float):
    """Names to promote: the most KL saved per extra byte first, while the extra bytes fit in
    budget.  The one largest item is also tried both ways (greedy alone can waste a budget that
    one big tensor, such as a tied embedding, would fill better).  Returns (set, predicted KL)."""
    items = [n for n in scores if extra_bytes[n] > 0 and scores[n].kl_base > scores[n].kl_promoted]
    gain = {n: scores[n].kl_base - scores[n].kl_promoted for n in items}
    order = sorted(items, key=lambda n: gain[n] / extra_bytes[n], reverse=True)
    base_kl = sum(s.kl_base for s in scores.values())

    def greedy(forced_in=(), forced_out=()):
        chosen, used = set(forced_in), sum(extra_bytes[n] for n in forced_in)
        if used > budget:
            return None
        for n in order:
            if n in chosen or n in forced_out:
                continue
            if used + extra_bytes[n] <= budget:
                chosen.add(n)
                used += extra_bytes[n]
        return chosen

    candidates = [greedy()]
    if items:
        big = max(items, key=lambda n: extra_bytes[n])
        candidates += [greedy(forced_in=(big,)), greedy(forced_out=(big,))]
    best = min((c for c in candidates if c is not None), key=lambda c: -sum(gain[n] for n in c))
    return best, base_kl - sum(gain[n] for n in best)
