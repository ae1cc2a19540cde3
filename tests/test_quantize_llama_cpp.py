"""The quantizer's output runs in llama.cpp and in our engine, and they agree.

Also: the NumPy calibration forward matches the C engine.  (Hugging Face sources:
tests/test_quantize_hf.py.)
"""
import numpy as np
import pytest

import gemma_accel
from gemma_accel import GGUFFile

PROMPT = "Q: What is the largest planet in the solar system?\nA:"


@pytest.fixture(scope="module")
def q4_0_file(gemma_path, tmp_path_factory):
    dst = tmp_path_factory.mktemp("q") / "gemma-q4_0.gguf"
    gemma_accel.quantize(gemma_path, dst, profile="q4_0", progress=False)
    return dst


def _llama_cpp_logits(path, ids):
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=256, logits_all=True, verbose=False)
    try:
        llm.eval(ids)
        return np.array(llm.scores[: len(ids)], dtype=np.float32)
    finally:
        llm.close()


def test_llama_cpp_runs_our_q4_0_and_agrees(q4_0_file):
    with gemma_accel.load(q4_0_file, n_ctx=256) as m:
        ids = m.tokenize(PROMPT)
        ours = m.logits(ids)
        text = m.generate(PROMPT, max_tokens=6, temperature=0.0).text
    theirs = _llama_cpp_logits(q4_0_file, ids)
    agree = (ours.argmax(1) == theirs.argmax(1)).mean()
    assert agree >= 0.9 and ours[-1].argmax() == theirs[-1].argmax(), agree
    assert text.strip()  # it generates text


def test_calibration_forward_matches_engine(gemma_path):
    """The NumPy forward that awq-lite and mixed calibrate with predicts what the C engine does."""
    from gemma_accel.quantize.calibration import Forward, tokenizer_of
    from gemma_accel.checkpoint import open_checkpoint
    with open_checkpoint(gemma_path) as src:
        ids = tokenizer_of(src).encode("The capital of France is Paris, and the capital of Italy is",
                                       add_bos=True)
        x = Forward(src).run(ids)
        emb = src.tensor("token_embd.weight").read()
    logits = x @ emb.T
    with gemma_accel.load(gemma_path, n_ctx=64) as m:
        ref = m.logits(ids)
    assert (logits.argmax(1) == ref.argmax(1)).mean() >= 0.9
    np.testing.assert_allclose(logits[-1], ref[-1], atol=0.05 * np.abs(ref[-1]).max())


@pytest.mark.slow
def test_awq_lite_runs_in_llama_cpp_and_beats_q4_0(q4_0_file, gemma_path, tmp_path):
    """awq-lite writes plain GGUF (same types and size as q4_0, scales folded into the norms)
    that llama.cpp runs, with a lower KL divergence than q4_0 against the source."""
    from gemma_accel.quantize.perplexity import evaluate
    from pathlib import Path
    text = (Path(__file__).parents[1] / "benchmarks" / "text" / "evaluation.txt").read_text()
    awq = tmp_path / "awq.gguf"
    r = gemma_accel.quantize(gemma_path, awq, profile="awq-lite", progress=False)
    assert r.output_bytes == q4_0_file.stat().st_size
    with GGUFFile(awq) as a, GGUFFile(gemma_path) as s:
        assert not np.allclose(a.dequantize("blk.3.attn_norm.weight"), s.dequantize("blk.3.attn_norm.weight"))
    with gemma_accel.load(awq, n_ctx=256) as m:
        ids = m.tokenize(PROMPT)
        ours = m.logits(ids)
    theirs = _llama_cpp_logits(awq, ids)
    assert (ours.argmax(1) == theirs.argmax(1)).mean() >= 0.9
    kl_awq = evaluate(awq, text, reference=gemma_path, n_ctx=256, max_chunks=2).mean_kl
    kl_q4 = evaluate(q4_0_file, text, reference=gemma_path, n_ctx=256, max_chunks=2).mean_kl
    assert kl_awq < kl_q4, (kl_awq, kl_q4)
