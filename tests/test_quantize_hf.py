"""Hugging Face folder -> GGUF: weights, tokenizer and chat template carried over.

The folder is made from the real Gemma 3 270M GGUF by tests/gguf_to_hf.py: F32
safetensors decoded by the `gguf` package, tokenizer.json / tokenizer_config.json
written by transformers' own GGUF tokenizer conversion (not our code), and a Gemma
chat template added to tokenizer_config.json.  The quantized outputs must tokenize
like the original GGUF (our tokenizer and llama.cpp's), run in llama.cpp with the
same greedy tokens as in our engine, and keep the template.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import gemma_accel
from gemma_accel import GGUFFile
from gemma_accel.tokenizer import Tokenizer

sys.path.insert(0, str(Path(__file__).parent))
from gguf_to_hf import convert  # noqa: E402
from test_quantize_llama_cpp import PROMPT, _llama_cpp_logits  # noqa: E402

CORPUS = json.loads((Path(__file__).parent / "tokenizer_corpus.json").read_text())
# Gemma's turn format behind a "Chat:" line, so that using it is told apart from the built-in format
GEMMA_TEMPLATE = (
    "{{ bos_token }}Chat:\n{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")


@pytest.fixture(scope="module")
def gemma_hf(gemma_path, tmp_path_factory):
    pytest.importorskip("gguf")
    pytest.importorskip("transformers")
    folder = convert(gemma_path, tmp_path_factory.mktemp("hf") / "gemma-3-270m", tokenizer=True)
    cfg_path = folder / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["chat_template"] = GEMMA_TEMPLATE
    cfg_path.write_text(json.dumps(cfg))
    return folder


@pytest.fixture(scope="module", params=["q8_0", "q4_0"])
def from_hf(request, gemma_hf, tmp_path_factory):
    dst = tmp_path_factory.mktemp("out") / f"gemma-{request.param}.gguf"
    report = gemma_accel.quantize(gemma_hf, dst, profile=request.param, progress=False)
    return dst, report


def test_tokenizer_matches_original(from_hf, gemma_hf, gemma_path):
    """Every corpus string tokenizes as the folder's tokenizer.json does (the `tokenizers` library)
    and as the original GGUF does, except where transformers' GGUF -> tokenizer.json conversion
    itself differs from the original: it turns Gemma's user-defined whitespace-run pieces into
    ordinary BPE pieces (long runs of spaces, literal '▁'), and the GGUF can only carry what the
    folder says."""
    from tokenizers import Tokenizer as HFTok
    dst, report = from_hf
    assert not report.requantized and not any("no tokenizer" in n for n in report.notes)
    with GGUFFile(gemma_path) as a, GGUFFile(dst) as b:
        ours, orig = Tokenizer.from_gguf_metadata(b.metadata), Tokenizer.from_gguf_metadata(a.metadata)
        for key in ("tokenizer.ggml.model", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                    "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_space_prefix"):
            assert b.metadata[key] == a.metadata[key], key
        assert len(b.metadata["tokenizer.ggml.tokens"]) == len(a.metadata["tokenizer.ggml.tokens"])
    hf = HFTok.from_file(str(gemma_hf / "tokenizer.json"))
    bos = orig.bos_id
    folder_differs = []
    for s in CORPUS:   # `tokenizers` always matches special tokens in the text: compare with special=True
        want = [bos] + hf.encode(s, add_special_tokens=False).ids
        assert ours.encode(s, special=True) == want, s
        if want != orig.encode(s, special=True):
            folder_differs.append(s)
        else:
            assert ours.encode(s) == orig.encode(s), s
    assert all(set(s) <= {" ", "\u2581"} for s in folder_differs), folder_differs
    assert len(folder_differs) <= 4, folder_differs    # 399 of the 403 strings agree with the original
    special = "<start_of_turn>user\nHi<end_of_turn>\n"
    assert ours.encode(special, special=True) == orig.encode(special, special=True)


def test_llama_cpp_runs_it_and_agrees(from_hf):
    dst, _ = from_hf
    llama_cpp = pytest.importorskip("llama_cpp")
    with gemma_accel.load(dst, n_ctx=256) as m:
        ids = m.tokenize(PROMPT)
        ours = m.logits(ids)
    llm = llama_cpp.Llama(model_path=str(dst), n_ctx=64, vocab_only=True, verbose=False)
    try:
        assert llm.tokenize(PROMPT.encode(), add_bos=True) == ids   # llama.cpp reads our tokenizer alike
        assert llm.metadata["tokenizer.chat_template"] == GEMMA_TEMPLATE
    finally:
        llm.close()
    theirs = _llama_cpp_logits(dst, ids)
    agree = (ours.argmax(1) == theirs.argmax(1)).mean()
    assert agree >= 0.9 and ours[-1].argmax() == theirs[-1].argmax(), agree


def test_chat_template_carried_over(from_hf):
    dst, _ = from_hf
    with GGUFFile(dst) as f:
        assert f.metadata["tokenizer.chat_template"] == GEMMA_TEMPLATE
    with gemma_accel.load(dst, n_ctx=256) as m:
        c = m.chat([{"role": "user", "content": "Say hi."}], max_tokens=4, temperature=0)
        assert c.timings["prompt_tokens"] == len(m.tokenize(
            "Chat:\n<start_of_turn>user\nSay hi.<end_of_turn>\n<start_of_turn>model\n", special=True))


def test_hf_source_matches_gguf_source(gemma_hf, gemma_path, tmp_path):
    """The F32 folder quantizes to the same matrices as the GGUF it came from, with GGUF's norm
    convention (1 + w) and the same architecture metadata."""
    from_hf, from_gguf = tmp_path / "from_hf.gguf", tmp_path / "from_gguf.gguf"
    gemma_accel.quantize(gemma_hf, from_hf, profile="q8_0", progress=False)
    gemma_accel.quantize(gemma_path, from_gguf, profile="q8_0", progress=False)
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
