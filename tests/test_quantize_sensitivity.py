"""Measured sensitivity (quantize/sensitivity.py): its predicted KL ranks tensor kinds as the KL measured
in the C engine does; the streamed KL equals a direct one; the budget choice; int4-balanced's budget
is llama.cpp's Q4_K_M recipe, checked against the real Q4_K_M file llama.cpp wrote."""
from pathlib import Path

import numpy as np
import pytest

import gemma_accel
from gemma_accel import GGUFFile
from gemma_accel.quantize import sensitivity as sens
from gemma_accel.quantize.calibration import calibration_ids, calibration_text
from gemma_accel.quantize.profiles import llama_q4_k_m, tensor_kind
from gemma_accel.checkpoint import open_checkpoint
from gemma_accel.quantize.perplexity import ReferenceLogprobs, evaluate

TEXT = Path(__file__).parents[1] / "benchmarks" / "text" / "evaluation.txt"


@pytest.mark.slow
def test_predicted_kl_ranks_kinds_as_measured(gemma_path, tmp_path):
    """Every matrix at Q4_0 (the source's own grids are Q5_0/Q4_K/Q6_K/Q8_0, so this is a real loss):
    the kinds predicted most, middling and least sensitive measure in the same order in the engine
    (one kind at Q4_0, the rest Q8_0), and the prediction is within 3x of the measurement."""
    with open_checkpoint(gemma_path) as src:
        base = {t.name: "Q4_0" for t in src.tensors if t.is_matrix}
        prom = {n: "Q8_0" for n in base}
        ids = calibration_ids(src, calibration_text(None), 256)
        m = sens.measure(src, ids, base, prom)
    assert len(m.scores) == len(base) and m.kl_all > m.kl_head > 0 and m.beta > 0
    pred = {}
    for name, s in m.scores.items():
        assert s.kl_base > s.kl_promoted >= 0, name
        pred[tensor_kind(name)] = pred.get(tensor_kind(name), 0.0) + s.kl_base
    order = sorted(pred, key=pred.get, reverse=True)
    picked = [order[0], order[len(order) // 2], order[-1]]
    text = TEXT.read_text()
    ref = ReferenceLogprobs(gemma_path, text, n_ctx=256, max_chunks=2)
    measured = {}
    for kind in picked:
        dst = tmp_path / f"{kind}.gguf"
        gemma_accel.quantize(gemma_path, dst, profile="q8_0", type_overrides={kind: "Q4_0"}, progress=False)
        measured[kind] = evaluate(dst, text, reference=ref, n_ctx=256).mean_kl
        dst.unlink()
    assert measured[picked[0]] > measured[picked[1]] > measured[picked[2]], (pred, measured)
    for kind in picked:
        assert measured[kind] / 3 < pred[kind] < measured[kind] * 3, (kind, pred[kind], measured[kind])


def test_streamed_kl_equals_direct():
    rng = np.random.default_rng(1)
    zp, zq = rng.normal(size=(5, 1000)) * 3, rng.normal(size=(5, 1000)) * 3
    s = sens._StreamKL(5)
    for c in range(0, 1000, 128):
        s.update(zp[:, c:c + 128], zq[:, c:c + 128])
    lp = zp - np.log(np.exp(zp).sum(1, keepdims=True))
    lq = zq - np.log(np.exp(zq).sum(1, keepdims=True))
    assert s.mean() == pytest.approx(float((np.exp(lp) * (lp - lq)).sum(1).mean()), rel=1e-9)


def test_choose_within_budget_and_tries_the_big_item():
    S = sens.TensorScore
    scores = {"a": S("a", "Q4_0", "Q8_0", 0.30, 0.0), "b": S("b", "Q4_0", "Q8_0", 0.05, 0.0),
              "c": S("c", "Q4_0", "Q8_0", 0.04, 0.0), "big": S("big", "Q4_0", "Q8_0", 0.50, 0.0)}
    extra = {"a": 10, "b": 1, "c": 1, "big": 100}
    chosen, kl = sens.choose(scores, extra, budget=105)
    assert chosen == {"big", "b", "c"} and kl == pytest.approx(0.30)   # greedy by ratio would take a, b, c
    chosen, kl = sens.choose(scores, extra, budget=12)
    assert chosen == {"a", "b", "c"} and kl == pytest.approx(0.50)
    assert sens.choose(scores, extra, budget=0)[0] == set()


def test_llama_q4_k_m_recipe_is_llama_cpps(gemma_path):
    """The bundled file is llama.cpp's Q4_K_M of Gemma 3 270M: the recipe gives every tensor its type,
    so int4-balanced's budget is exactly that file's tensor bytes."""
    with GGUFFile(gemma_path) as f:
        n_layer = f.metadata["gemma3.block_count"]
        for name, info in f.tensors.items():
            assert llama_q4_k_m(name, info.shape, name == "token_embd.weight", n_layer) == info.type, name


@pytest.mark.slow
def test_int4_balanced_within_q4_k_m_size(gemma_path, tmp_path):
    dst = tmp_path / "b.gguf"
    r = gemma_accel.quantize(gemma_path, dst, profile="int4-balanced", exclude_layers=(3,), progress=False)
    assert r.output_bytes <= Path(gemma_path).stat().st_size
    with GGUFFile(gemma_path) as src:   # the excluded layer is neither scored nor promoted
        for name in ("blk.3.attn_v.weight", "blk.3.ffn_down.weight", "blk.3.ffn_up.weight"):
            assert r.tensor_types[name] == src.tensors[name].type, name
    types = {t for n, t in r.tensor_types.items() if "norm" not in n and not n.startswith("blk.3.")}
    assert types <= {"Q4_K", "Q5_0", "Q6_K", "Q8_0"} and {"Q6_K", "Q8_0"} & types   # some promoted
    assert any("int4-balanced:" in n and "predicted KL" in n for n in r.notes)
