"""The quantizer's output runs in llama.cpp and in our engine, and they agree.

Also: a Hugging Face F32 folder (made from the bundled GGUF by tests/gguf_to_hf.py)
quantizes to the same matrices as the GGUF it came from, with GGUF's norm
convention (1 + w); and the NumPy calibration forward matches the C engine.
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


@pytest.mark.slow
def test_hf_source_matches_gguf_source(gemma_path, tmp_path_factory):
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    pytest.importorskip("gguf")
    from gguf_to_hf import convert
    base = tmp_path_factory.mktemp("hf")
    hf = convert(gemma_path, base / "hf")
    from_hf, from_gguf = base / "from_hf.gguf", base / "from_gguf.gguf"
    r = gemma_accel.quantize(hf, from_hf, profile="q8_0", progress=False)
    gemma_accel.quantize(gemma_path, from_gguf, profile="q8_0", progress=False)
    assert not r.requantized and any("no tokenizer" in n for n in r.notes)
    with GGUFFile(from_hf) as a, GGUFFile(from_gguf) as b:
        assert set(a.tensors) == set(b.tensors)
        for key in ("gemma3.block_count", "gemma3.embedding_length", "gemma3.attention.head_count_kv",
                    "gemma3.attention.key_length", "gemma3.attention.sliding_window", "gemma3.context_length"):
            assert a.metadata[key] == b.metadata[key], key
        assert a.metadata["gemma3.rope.freq_base"] == pytest.approx(b.metadata["gemma3.rope.freq_base"])
        for name in ("blk.0.attn_q.weight", "blk.5.ffn_down.weight", "token_embd.weight"):
            assert np.array_equal(a.raw(name), b.raw(name)), name
        for name in ("blk.0.attn_norm.weight", "output_norm.weight", "blk.3.attn_k_norm.weight"):
            np.testing.assert_allclose(a.dequantize(name), b.dequantize(name), atol=1e-6)  # 1 + w


def test_calibration_forward_matches_engine(gemma_path):
    """The NumPy forward that awq-lite and mixed calibrate with predicts what the C engine does."""
    from gemma_accel.calibration import Forward, tokenizer_of
    from gemma_accel.quant_source import open_source
    with open_source(gemma_path) as src:
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
    from gemma_accel.perplexity import evaluate
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
