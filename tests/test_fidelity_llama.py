"""The llama architecture on a real file: SmolLM2-135M-Instruct (Q4_1 GGUF) against
Hugging Face transformers running the same weights (dequantized by gguf-py, q/k rows
un-permuted) in float32, and its own chat template end to end."""
import numpy as np
import pytest

import gemma_accel

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

# Measured (2026-11-22): agreement 1.0, max |dlogit| 0.0044.
ARGMAX_AGREEMENT = 0.99
MAX_ABS_LOGIT_DIFF = 0.1

TEXT = ("The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
        "combined movable metal type, oil-based ink and a wooden press adapted from wine making. Within "
        "fifty years presses had spread to more than two hundred cities across Europe.")


@pytest.fixture(scope="module")
def smollm2_hf(smollm2_path, tmp_path_factory):
    """SmolLM2 as a Hugging Face folder: float32 weights from gguf-py, and the tokenizer
    (tokenizer.json, chat template) converted from the GGUF by transformers."""
    from gguf_to_hf import convert
    folder = convert(smollm2_path, tmp_path_factory.mktemp("smollm2-hf"))
    tok = transformers.AutoTokenizer.from_pretrained(smollm2_path.parent, gguf_file=smollm2_path.name)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def smollm2(smollm2_path):
    with gemma_accel.load(smollm2_path, n_ctx=1024) as model:
        yield model


def test_logits_and_greedy_match_transformers(smollm2, smollm2_hf):
    reference = transformers.LlamaForCausalLM.from_pretrained(smollm2_hf, dtype=torch.float32).eval()
    ids = smollm2.tokenize(TEXT)
    with torch.no_grad():
        ref = reference(torch.tensor([ids])).logits[0].numpy()
    got = smollm2.logits(ids)
    assert (got.argmax(-1) == ref.argmax(-1)).mean() >= ARGMAX_AGREEMENT
    assert np.abs(got - ref).max() <= MAX_ABS_LOGIT_DIFF
    done = smollm2.generate(ids, max_tokens=24, temperature=0)
    with torch.no_grad():
        out = reference.generate(torch.tensor([ids]), max_new_tokens=len(done.tokens), do_sample=False)
    assert done.tokens == out[0, len(ids):].tolist()


def test_chat_uses_the_files_jinja_template(smollm2):
    assert "<|im_start|>" in smollm2.chat_template
    c = smollm2.chat([{"role": "user", "content": "What is the capital of France?"}], max_tokens=24,
                     temperature=0)
    assert "Paris" in c.text and c.finish_reason == "stop"
    assert "<|im_end|>" not in c.text


def test_hugging_face_folder_with_tokenizer_json(smollm2, smollm2_hf):
    """The safetensors path end to end: our tokenizer.json reader and the HF chat template."""
    import json
    import re
    import unicodedata
    from pathlib import Path
    with gemma_accel.load(smollm2_hf, n_ctx=512) as hf:
        corpus = json.loads((Path(__file__).parent / "tokenizer_corpus.json").read_text())
        for s in corpus:
            ids = smollm2.tokenize(s, add_bos=False)
            assert hf.detokenize(ids) == smollm2.detokenize(ids)
            # transformers' converted tokenizer always splits special-token text and
            # NFKC-normalizes; everything else must tokenize exactly as the GGUF does
            if not re.search(r"<[^<>\s]+>", s) and unicodedata.normalize("NFKC", s) == s:
                assert hf.tokenize(s, add_bos=False) == ids, s
        c = hf.chat([{"role": "user", "content": "What is the capital of France?"}], max_tokens=24,
                    temperature=0)
        assert "Paris" in c.text and c.finish_reason == "stop"
