"""Hugging Face folder -> GGUF: weights, tokenizer and chat template carried over.

The folders are made from the real Gemma 3 270M and SmolLM2-135M GGUFs by
tests/gguf_to_hf.py: F32 safetensors decoded by the `gguf` package, tokenizer.json /
tokenizer_config.json (and SmolLM2's chat_template.jinja) written by transformers'
own GGUF tokenizer conversion (not our code); Gemma's gets a chat template added to
tokenizer_config.json, SmolLM2's its digit-splitting pre-tokenizer back.  The quantized outputs must tokenize
like the original GGUF (our tokenizer and llama.cpp's), run in llama.cpp with the
same greedy tokens as in our engine, and keep the template.
"""
import json
import subprocess
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

# converts the real models to Hugging Face folders and quantizes them back: minutes
pytestmark = pytest.mark.slow

CORPUS = json.loads((Path(__file__).parent / "tokenizer_corpus.json").read_text())
# Gemma's turn format behind a "Chat:" line, so that using it is told apart from the built-in format
GEMMA_TEMPLATE = (
    "{{ bos_token }}Chat:\n{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n{{ message['content'] | trim }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")


# SmolLM's pre-tokenizer splits digits one by one before the GPT-2 regex; transformers' GGUF
# converter writes a plain ByteLevel pre-tokenizer, so the folder gets SmolLM's own back.
SMOLLM_PRE = {"type": "Sequence", "pretokenizers": [
    {"type": "Digits", "individual_digits": True},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
SPECIAL = {"gemma": "<start_of_turn>user\nHi<end_of_turn>\n", "smollm2": "<|im_start|>user\nHi<|im_end|>\n"}


_MADE = {}   # conversions and quantizations, made once per module run (fixtures below share them)


def _case(name, tmp_path_factory):
    """(model name, original GGUF, HF folder made from it, the folder's chat template)."""
    if name in _MADE:
        return _MADE[name]
    pytest.importorskip("gguf")
    pytest.importorskip("transformers")
    gguf_path = gemma_accel.default_model_path() if name == "gemma" else gemma_accel.smollm2_model_path()
    folder = convert(gguf_path, tmp_path_factory.mktemp("hf") / name, tokenizer=True)
    if name == "gemma":   # the pretrained GGUF has no template: the folder gets one
        cfg_path = folder / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["chat_template"] = template = GEMMA_TEMPLATE
        cfg_path.write_text(json.dumps(cfg))
    else:
        tj = json.loads((folder / "tokenizer.json").read_text())
        tj["pre_tokenizer"] = SMOLLM_PRE
        (folder / "tokenizer.json").write_text(json.dumps(tj))
        with GGUFFile(gguf_path) as f:
            template = f.metadata["tokenizer.chat_template"]
    _MADE[name] = (name, gguf_path, folder, template)
    return _MADE[name]


@pytest.fixture(params=["gemma", "smollm2"])
def hf_case(request, tmp_path_factory):
    return _case(request.param, tmp_path_factory)


@pytest.fixture
def gemma_hf(tmp_path_factory):
    return _case("gemma", tmp_path_factory)[2]


@pytest.fixture(params=["q8_0", "q4_0"])
def from_hf(request, hf_case, tmp_path_factory):
    key = (hf_case[0], request.param)
    if key not in _MADE:
        dst = tmp_path_factory.mktemp("out") / f"{key[0]}-{key[1]}.gguf"
        _MADE[key] = dst, gemma_accel.quantize(hf_case[2], dst, profile=request.param, progress=False)
    return _MADE[key]


def test_loaded_folder_uses_the_c_tokenizer_with_the_gguf_end_ids(hf_case):
    """load(folder) tokenizes through the C tokenizer fed from tokenizer.json (no `tokenizers`
    import), as the folder's tokenizer.json does, and stops on the same end-of-generation ids as
    the original GGUF."""
    from tokenizers import Tokenizer as HFTok
    name, gguf_path, folder, _ = hf_case
    hf = HFTok.from_file(str(folder / "tokenizer.json"))
    with gemma_accel.load(gguf_path, n_ctx=64) as g, gemma_accel.load(folder, n_ctx=64) as h:
        assert isinstance(h.tokenizer, Tokenizer)
        assert h.tokenizer.eog_ids == g.tokenizer.eog_ids and h.tokenizer.eog_ids
        assert (h.tokenizer.bos_id, h.tokenizer.eos_id, h.tokenizer.add_bos) == \
            (g.tokenizer.bos_id, g.tokenizer.eos_id, g.tokenizer.add_bos)
        bos = [g.tokenizer.bos_id] if g.tokenizer.add_bos else []
        for s in CORPUS + [SPECIAL[name]]:
            assert h.tokenize(s, special=True) == bos + hf.encode(s, add_special_tokens=False).ids, s
        assert h.tokenize(SPECIAL[name], special=True) == g.tokenize(SPECIAL[name], special=True)
    code = ("import sys, gemma_accel\n"
            f"m = gemma_accel.load({str(folder)!r}, n_ctx=32)\n"
            "assert m.generate('Hi', max_tokens=2, temperature=0).timings\n"
            "assert 'tokenizers' not in sys.modules and 'transformers' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tokenizer_matches_original(from_hf, hf_case):
    """Every corpus string tokenizes as the folder's tokenizer.json does (the `tokenizers` library)
    and as the original GGUF does, except where transformers' GGUF -> tokenizer.json conversion
    itself differs from the original: it turns Gemma's user-defined whitespace-run pieces into
    ordinary BPE pieces (long runs of spaces, literal '▁'), and the GGUF can only carry what the
    folder says."""
    from tokenizers import Tokenizer as HFTok
    name, gguf_path, folder, _ = hf_case
    dst, report = from_hf
    assert not report.requantized and not any("no tokenizer" in n for n in report.notes)
    with GGUFFile(gguf_path) as a, GGUFFile(dst) as b:
        ours, orig = Tokenizer.from_gguf_metadata(b.metadata), Tokenizer.from_gguf_metadata(a.metadata)
        for key in ("tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.bos_token_id",
                    "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id"):
            assert b.metadata[key] == a.metadata[key], key
        assert len(b.metadata["tokenizer.ggml.tokens"]) == len(a.metadata["tokenizer.ggml.tokens"])
    hf = HFTok.from_file(str(folder / "tokenizer.json"))
    bos = [orig.bos_id] if orig.add_bos else []
    folder_differs = []
    for s in CORPUS:   # `tokenizers` always matches special tokens in the text: compare with special=True
        want = bos + hf.encode(s, add_special_tokens=False).ids
        assert ours.encode(s, special=True) == want, s
        if want != orig.encode(s, special=True):
            folder_differs.append(s)
        else:
            assert ours.encode(s) == orig.encode(s), s
    assert all(set(s) <= {" ", "\u2581"} for s in folder_differs), folder_differs
    assert len(folder_differs) <= (4 if name == "gemma" else 0), folder_differs
    assert ours.encode(SPECIAL[name], special=True) == orig.encode(SPECIAL[name], special=True)


def test_llama_cpp_runs_it_and_agrees(from_hf, hf_case):
    dst, _ = from_hf
    template = hf_case[3]
    llama_cpp = pytest.importorskip("llama_cpp")
    with gemma_accel.load(dst, n_ctx=256) as m:
        ids = m.tokenize(PROMPT)
        ours = m.logits(ids)
        add_bos = m.tokenizer.add_bos
    llm = llama_cpp.Llama(model_path=str(dst), n_ctx=64, vocab_only=True, verbose=False)
    try:
        assert llm.tokenize(PROMPT.encode(), add_bos=add_bos) == ids   # llama.cpp reads our tokenizer alike
        assert llm.metadata["tokenizer.chat_template"] == template
    finally:
        llm.close()
    theirs = _llama_cpp_logits(dst, ids)
    agree = (ours.argmax(1) == theirs.argmax(1)).mean()
    assert agree >= 0.9 and ours[-1].argmax() == theirs[-1].argmax(), agree


def test_chat_template_carried_over(from_hf, hf_case):
    dst, _ = from_hf
    name, _, _, template = hf_case
    with GGUFFile(dst) as f:
        assert f.metadata["tokenizer.chat_template"] == template
    with gemma_accel.load(dst, n_ctx=256) as m:
        c = m.chat([{"role": "user", "content": "Say hi."}], max_tokens=4, temperature=0)
        if name == "gemma":   # the folder's template, not the built-in Gemma format
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
