"""The Vulkan backend against the CPU backend on the real models: lavapipe in CI (Mesa's
CPU Vulkan driver), the machine's GPU where it has one.  Every op's kernel is also tested
on its own in test_backend_ops.py; this file checks whole models, several sequences in one
batch, the device list, and the errors (out of device memory, a lost device).

Fidelity, per model: eight prompts run as eight sequences of one batch (their prefill in
one chunk, then 32 decode steps of eight tokens), teacher-forced on the CPU backend's own
greedy continuation.  The Vulkan backend's argmax must equal the CPU's token at every step
(the prompt's last position included): then a free-running greedy generation on Vulkan
makes the same 32 tokens, since each of its steps sees the same tokens as the CPU's did.
Over those 8 x 33 positions the top-1 agreement must be >= 99% (it is 100%) and the mean
KL divergence from the CPU's distribution <= 1e-3 (measured: ~2e-8).
"""
import os

import numpy as np
import pytest

os.environ["GA_VK_VALIDATION"] = "1"  # the Khronos validation layer; any message fails a test

import gemma_accel  # noqa: E402
from gemma_accel import _core  # noqa: E402

DEVICES, MISSING = _core.vulkan_devices()
pytestmark = pytest.mark.skipif(not DEVICES, reason=f"no Vulkan device: {MISSING}")

PROMPTS = ["The capital of France is", "Water boils at a temperature of", "def fibonacci(n):",
           "Once upon a time, in a small village,", "The three primary colors are", "In 1969, the first humans",
           "A haiku about the ocean:", "To make a cup of tea, first"]
N_NEW = 32


@pytest.fixture(autouse=True)
def no_validation_messages():
    before = _core.vulkan_validation_messages()[0]
    yield
    count, last = _core.vulkan_validation_messages()
    assert count == before, f"the Vulkan validation layer said: {last}"


def batched_run(model, backend, prompts, continuation=None):
    """All prompts as sequences 0.. of one batch; then N_NEW decode steps, each feeding every
    sequence the next token of continuation (teacher forcing) or, without one, its own
    argmax.  Returns (tokens [n, N_NEW], logits [n, N_NEW + 1, n_vocab])."""
    n = len(prompts)
    core = _core.Model(model.hparams, model._table, 256, 256, 2, 16, n_seq=n, backend=backend)
    assert core.backend == backend, core.fallback
    tok = np.concatenate(prompts).astype(np.int32)
    seq = np.concatenate([[i] * len(p) for i, p in enumerate(prompts)])
    pos = np.concatenate([np.arange(len(p)) for p in prompts])
    want = np.zeros(len(tok), bool)
    want[np.cumsum([len(p) for p in prompts]) - 1] = True
    rows = [core.eval_batch(tok, seq, pos, logits=want)]
    nxt_pos = np.array([len(p) for p in prompts])
    tokens = []
    for step in range(N_NEW):
        nxt = rows[-1].argmax(-1).astype(np.int32) if continuation is None else continuation[:, step]
        tokens.append(nxt)
        rows.append(core.eval_batch(nxt, np.arange(n), nxt_pos, logits=np.ones(n, bool)))
        nxt_pos = nxt_pos + 1
    return np.array(tokens).T, np.stack(rows, axis=1)


def log_softmax(x):
    x = x.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.mark.parametrize("which", ["gemma", "smollm2"])
def test_model_matches_cpu(which, gemma_path, smollm2_path):
    path = gemma_path if which == "gemma" else smollm2_path
    with gemma_accel.load(path, n_ctx=256) as m:
        prompts = [m.tokenize(p) for p in PROMPTS]
        cpu_tokens, cpu_logits = batched_run(m, "cpu", prompts)
        vk_tokens, vk_logits = batched_run(m, "vulkan", prompts, continuation=cpu_tokens)
    # every step's argmax is the CPU's greedy token: the same 32 tokens free-running
    vk_argmax = vk_logits[:, :N_NEW].argmax(-1)
    for i, text in enumerate(PROMPTS):
        assert (vk_argmax[i] == cpu_tokens[i]).all(), f"{which} {text!r}: greedy tokens differ"
    top1 = (vk_logits.argmax(-1) == cpu_logits.argmax(-1)).mean()
    a, b = log_softmax(cpu_logits), log_softmax(vk_logits)
    kl = (np.exp(a) * (a - b)).sum(-1)
    print(f"\n{which}: top-1 agreement {top1:.4f}, mean KL {kl.mean():.2e}, max KL {kl.max():.2e} "
          f"over {kl.size} positions")
    assert top1 >= 0.99
    assert kl.mean() <= 1e-3


def test_generate_and_info(gemma_path):
    info = gemma_accel.info()
    assert info["vulkan_devices"], info["vulkan_missing"]
    d = info["vulkan_devices"][0]
    for key in ("name", "type", "memory_bytes", "subgroup_size", "features"):
        assert key in d, d
    with gemma_accel.load(gemma_path, n_ctx=128, backend="vulkan", device=0) as vk, \
            gemma_accel.load(gemma_path, n_ctx=128) as cpu:
        assert vk.backend == "vulkan" and vk._core.fallback is None
        a = vk.generate("The sky is", max_tokens=8, temperature=0)
        b = cpu.generate("The sky is", max_tokens=8, temperature=0)
        assert a.tokens == b.tokens and a.text == b.text
        assert a.timings["generate_s"] > 0 and a.timings["prompt_s"] > 0


def test_out_of_device_memory(gemma_path, caplog):
    # a budget smaller than the weights: an error that says what was needed and what there is
    with pytest.raises(gemma_accel.DeviceMemoryError, match=r"needs [\d.]+ MiB.*[\d.]+ MiB") as e:
        gemma_accel.load(gemma_path, n_ctx=128, backend="vulkan", budget_bytes=64 << 20)
    assert isinstance(e.value, gemma_accel.Error) and isinstance(e.value, MemoryError)
    # "auto" takes the CPU instead, quietly
    with gemma_accel.load(gemma_path, n_ctx=128, backend="auto", budget_bytes=64 << 20) as m:
        assert m.backend == "cpu" and "MiB" in m._core.fallback
    # nothing was left half-loaded: the device takes the whole model again
    with gemma_accel.load(gemma_path, n_ctx=128, backend="vulkan") as m:
        assert m.backend == "vulkan"
        assert len(m.generate("Hi", max_tokens=2, temperature=0).tokens) == 2


def test_lost_device(gemma_path):
    with gemma_accel.load(gemma_path, n_ctx=128, backend="vulkan") as m:
        ok = m.generate("The sky is", max_tokens=4, temperature=0)
        _core.vulkan_inject_device_lost(2)  # the second submission from here: mid-generation
        try:
            with pytest.raises(gemma_accel.DeviceError, match="lost"):
                m.generate("The sky is", max_tokens=4, temperature=0)
        finally:
            _core.vulkan_inject_device_lost(0)
        with pytest.raises(gemma_accel.DeviceError, match="lost"):  # and stays an error
            m.generate("The sky is", max_tokens=1, temperature=0)
    # the next load works
    with gemma_accel.load(gemma_path, n_ctx=128, backend="vulkan") as m:
        assert m.generate("The sky is", max_tokens=4, temperature=0).tokens == ok.tokens
