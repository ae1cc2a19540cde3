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
def smollm2(smollm2_path):
    with gemma_accel.load(smollm2_path, n_ctx=1024) as model:
        yield model


def test_logits_and_greedy_match_transformers(smollm2, smollm2_path, tmp_path):
    from gguf_to_hf import convert
    reference = transformers.LlamaForCausalLM.from_pretrained(convert(smollm2_path, tmp_path),
                                                              dtype=torch.float32).eval()
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
