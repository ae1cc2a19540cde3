"""Fidelity (a) and (c): the real Gemma 3 270M against Hugging Face transformers.

transformers runs in float32 on the CPU with the GGUF's weights dequantized by
the `gguf` package (tests/gguf_to_hf.py).  Our engine reads the same GGUF in its
block formats and quantizes activations to int8 for the dot products, so the
logits differ slightly; the bounds below say by how much we allow.
"""
import numpy as np
import pytest

import gemma_accel

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

# Measured (2026-11-22): prefill (f32 GEMM) agreement 1.0000, max |dlogit| < 0.001; decode (integer
# kernels, act_bits=16) agreement 1.0000, max |dlogit| ~0.02, mean KL ~1e-7.
ARGMAX_AGREEMENT = 0.99   # fraction of positions whose top token is the same
MAX_ABS_LOGIT_DIFF = 0.1  # largest |ours - reference| over all positions and the vocabulary
MEAN_KL = 1e-4            # mean KL(reference || ours) per position, nats
# Decode with act_bits=8 (plain int8 activations, as llama.cpp): measured agreement ~0.94, max |dlogit|
# ~3.8, mean KL ~0.008 -- Gemma 3's activation outliers make 8 bits visibly lossy; this bound documents it.
ARGMAX_AGREEMENT_INT8 = 0.90
DECODE_TOKENS = 64
GREEDY_TOKENS = 32

PROMPTS = [
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg "
    "combined movable metal type, oil-based ink and a wooden press adapted from wine making. Within "
    "fifty years presses had spread to more than two hundred cities across Europe. Books that had "
    "once taken a scribe a year to copy could now be produced by the hundreds in a few weeks, and "
    "the price of a bible fell to a fraction of what it had been. Scholars, merchants and",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number using iteration.\"\"\"\n    a, b = 0, 1\n"
    "    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\ndef is_prime(n):\n"
    "    \"\"\"Return True if n is a prime number.\"\"\"\n",
    "Photosynthesis is the process by which green plants, algae and some bacteria convert light "
    "energy into chemical energy. In the light-dependent reactions, which take place in the thylakoid "
    "membranes of the chloroplast, water molecules are split and oxygen is released as a by-product. "
    "The Calvin cycle, which runs in the stroma, then uses the resulting ATP and NADPH to",
    "Die Stadt Köln liegt am Rhein und ist für ihren gotischen Dom bekannt, dessen Bau im Jahr 1248 "
    "begann und erst 1880 vollendet wurde. Jedes Jahr besuchen Millionen Menschen die Kathedrale, "
    "und im Karneval verwandelt sich die ganze Stadt in eine riesige Feier mit Umzügen, Musik und "
    "Kostümen. Die Kölner sprechen ihren eigenen Dialekt, das Kölsch, und trinken dazu",
]


@pytest.fixture(scope="module")
def reference(gemma_path, tmp_path_factory):
    from gguf_to_hf import convert
    folder = convert(gemma_path, tmp_path_factory.mktemp("gemma3-hf"))
    torch.set_num_threads(2)
    model = transformers.Gemma3ForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                           attn_implementation="eager").eval()
    return model


@pytest.fixture(scope="module")
def ours(gemma_path):
    with gemma_accel.load(gemma_path, n_ctx=4096) as model:
        yield model


def kl_divergence(ref_logits, our_logits):
    def log_softmax(x):
        x = x.astype(np.float64)
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))
    p_log, q_log = log_softmax(ref_logits), log_softmax(our_logits)
    return (np.exp(p_log) * (p_log - q_log)).sum(-1)


def ref_logits(model, ids, keep=0):
    with torch.no_grad():
        return model(torch.tensor([ids]), logits_to_keep=keep).logits[0].float().numpy()


def test_logits_match_transformers(reference, ours, record_property):
    agree, worst, kls = [], 0.0, []
    for prompt in PROMPTS:
        ids = ours.tokenize(prompt)
        assert len(ids) >= 64, f"prompt too short: {len(ids)} tokens"
        got, ref = ours.logits(ids), ref_logits(reference, ids)
        agree.append((got.argmax(-1) == ref.argmax(-1)).mean())
        worst = max(worst, float(np.abs(got - ref).max()))
        kls.append(kl_divergence(ref, got).mean())
    record_property("argmax_agreement", float(np.mean(agree)))
    record_property("max_abs_logit_diff", worst)
    record_property("mean_kl", float(np.mean(kls)))
    print(f"\nargmax agreement {np.mean(agree):.4f}, max |dlogit| {worst:.3f}, mean KL {np.mean(kls):.5f}")
    assert np.mean(agree) >= ARGMAX_AGREEMENT
    assert worst <= MAX_ABS_LOGIT_DIFF
    assert np.mean(kls) <= MEAN_KL


def decode_logits(model, ids):
    """Logits of each position through the single-token decode path (integer kernels)."""
    model.reset()
    return np.stack([model._core.eval([t], logits="last").copy() for t in ids])


def test_decode_path_matches_transformers(reference, gemma_path, record_property):
    """Token-by-token decode runs the integer kernels (logits() above runs the f32 prefill
    GEMM): act_bits=16 must be as exact as prefill; act_bits=8 is measurably less exact."""
    stats = {}
    for bits in (16, 8):
        with gemma_accel.load(gemma_path, n_ctx=512, act_bits=bits) as m:
            agree, worst, kls = [], 0.0, []
            for prompt in PROMPTS:
                ids = m.tokenize(prompt)[:DECODE_TOKENS]
                got, ref = decode_logits(m, ids), ref_logits(reference, ids)
                agree.append((got.argmax(-1) == ref.argmax(-1)).mean())
                worst = max(worst, float(np.abs(got - ref).max()))
                kls.append(kl_divergence(ref, got).mean())
        stats[bits] = (float(np.mean(agree)), worst, float(np.mean(kls)))
        record_property(f"decode_act{bits}", stats[bits])
        print(f"\ndecode act_bits={bits}: argmax agreement {stats[bits][0]:.4f}, max |dlogit| {worst:.3f}, "
              f"mean KL {stats[bits][2]:.2e}")
    agree16, worst16, kl16 = stats[16]
    assert agree16 >= ARGMAX_AGREEMENT and worst16 <= MAX_ABS_LOGIT_DIFF and kl16 <= MEAN_KL
    assert stats[8][0] >= ARGMAX_AGREEMENT_INT8
    assert stats[8][2] > 10 * kl16  # int8 activations cost real accuracy: why act_bits=16 is the default


def test_greedy_continuations_match(reference, ours):
    for prompt in PROMPTS:
        ids = ours.tokenize(prompt)
        done = ours.generate(ids, max_tokens=GREEDY_TOKENS, temperature=0.0)
        with torch.no_grad():
            out = reference.generate(torch.tensor([ids]), max_new_tokens=len(done.tokens), do_sample=False,
                                     eos_token_id=None)
        expected = out[0, len(ids):].tolist()
        assert done.tokens == expected, prompt[:40]


def test_long_prompt_crosses_the_sliding_window(reference, ours):
    text = " ".join(PROMPTS) * 12
    ids = ours.tokenize(text)[:2000]
    assert len(ids) == 2000
    got = ours.logits(ids, last_n=16)
    ref = ref_logits(reference, ids, keep=16)
    assert (got.argmax(-1) == ref.argmax(-1)).mean() >= 15 / 16
    assert kl_divergence(ref, got).mean() <= MEAN_KL
