"""Fidelity (b): tiny random Gemma 1, 2, 3 and llama models built by Hugging Face
transformers from a seed, saved as safetensors, loaded by gemma_accel, and compared
logit for logit with transformers' own forward pass in float32 -- on the CPU backend, and
on the Vulkan backend (lavapipe in CI, under the validation layer) within the same bound."""
import os

import numpy as np
import pytest

os.environ["GA_VK_VALIDATION"] = "1"

import gemma_accel  # noqa: E402
from gemma_accel import _core  # noqa: E402

BACKENDS = ["cpu", "npu"] + ["vulkan"] * bool(_core.vulkan_devices()[0])

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

REL_TOL = 1e-4          # max |ours - ref| / max |ref|, float32 weights
REL_TOL_BF16 = 1e-4     # same, weights stored in bfloat16 (reference uses the same rounded weights)
SEQ = 80                # crosses the sliding window (16) and several prefill chunks (64)

COMMON = dict(vocab_size=512, hidden_size=64, intermediate_size=160, num_hidden_layers=6,
              num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=256)


def build(kind):
    T = transformers
    torch.manual_seed({"gemma": 1, "gemma2": 2, "gemma3": 3, "llama": 4}[kind])
    if kind == "gemma3":
        cfg = T.Gemma3TextConfig(**COMMON, sliding_window=16, query_pre_attn_scalar=24,
                                 rope_parameters={"full_attention": {"rope_type": "linear", "factor": 4.0,
                                                                     "rope_theta": 1e6},
                                                  "sliding_attention": {"rope_type": "default",
                                                                        "rope_theta": 1e4}})
        model = T.Gemma3ForCausalLM(cfg)
    elif kind == "gemma2":
        cfg = T.Gemma2Config(**COMMON, sliding_window=16, query_pre_attn_scalar=32,
                             attn_logit_softcapping=5.0, final_logit_softcapping=3.0)
        model = T.Gemma2ForCausalLM(cfg)
    elif kind == "gemma":
        model = T.GemmaForCausalLM(T.GemmaConfig(**COMMON))
    else:
        model = T.LlamaForCausalLM(T.LlamaConfig(**COMMON, tie_word_embeddings=False, rope_theta=5e5))
    with torch.no_grad():  # HF initializes norms to 0 or 1: randomize so a missing +1 shows
        for name, p in model.named_parameters():
            if "norm" in name:
                p.normal_(0.0, 0.5)
    return model.eval()


def reference_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0].float().numpy()


@pytest.mark.parametrize("kind", ["gemma", "gemma2", "gemma3", "llama"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_model_matches_transformers(kind, dtype, backend, tmp_path):
    model = build(kind)
    if dtype == "bfloat16":
        model = model.to(torch.bfloat16)
    model.save_pretrained(tmp_path)
    ids = np.random.RandomState(7).randint(0, COMMON["vocab_size"], size=SEQ).tolist()
    # the reference reloads the saved folder in float32: the same (possibly bf16-rounded)
    # weights, with transformers' own buffers (RoPE frequencies) computed in float32
    reference = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    ref = reference_logits(reference, ids)
    before = _core.vulkan_validation_messages()[0]
    budget = {"memory_budget": "16MiB"} if backend == "npu" else {}
    with gemma_accel.load(tmp_path, n_threads=2, backend=backend, **budget) as ours:
        assert ours.backend == backend, ours._core.fallback
        got = ours.logits(ids)
        last = ours.logits(ids, last_n=5)
    count, message = _core.vulkan_validation_messages()
    assert count == before, f"the Vulkan validation layer said: {message}"
    assert got.shape == (SEQ, COMMON["vocab_size"]) and got.dtype == np.float32
    rel = np.abs(got - ref).max() / np.abs(ref).max()
    assert rel < (REL_TOL if dtype == "float32" else REL_TOL_BF16), f"{kind}/{dtype}: rel err {rel:.2e}"
    assert (got.argmax(-1) == ref.argmax(-1)).all()
    np.testing.assert_array_equal(last, got[-5:])
