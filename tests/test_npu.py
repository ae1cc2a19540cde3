"""The NPU-chunked backend (backend="npu"): a model inside a hard memory budget, its
weights streamed from the file a layer at a time into an arena allocated at load.

- The budget holds: in a child process, the peak RSS during a 64-token generation, less
  the peak just before load(), stays under memory_budget + 8 MiB.
- A budget too small names the smallest that works, and that one works.
- Exact: the ops are the CPU backend's kernels on the streamed copies, so the default model
  and SmolLM2 under 64 MiB give the CPU backend's greedy tokens on 8 prompts and its
  teacher-forced logits (top-1 agreement and KL measured, not assumed).
- Static shapes: two steps are compiled at load (a prefill chunk and a 1-token decode) and
  only they run: every op executed is one of theirs, counted, with the padding counted too.
- Device profiles set the step shapes, the KV capacity and the alignment; a custom profile
  is a dict, and a bad one is refused by name.
- The scratchpad: every matmul's weight and every attention's keys pass through it in tiles
  planned at load; a scratchpad too small is refused with the size that works, and that size
  gives the CPU's tokens.
"""
import re
import subprocess
import sys

import numpy as np
import pytest

import gemma_accel

PROMPTS = ["The capital of France is", "Water boils at a temperature of", "def fibonacci(n):",
           "Once upon a time, in a small village,", "The three primary colors are", "In 1969, the first humans",
           "A haiku about the ocean:", "To make a cup of tea, first"]
BUDGET = 64 << 20

PEAK_CHILD = r"""
import sys, gemma_accel
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
before = hwm()
m = gemma_accel.load(sys.argv[1], backend="npu", memory_budget=int(sys.argv[2]))
assert m.backend == "npu", m._core.fallback
c = m.generate("The capital of France is", max_tokens=64, temperature=0, stop=[])
print(hwm() - before, len(c.tokens), m.memory_plan()["used"])
"""


@pytest.mark.slow  # an RSS figure means nothing under the sanitizers
@pytest.mark.parametrize("which", ["gemma", "smollm2"])
def test_peak_memory_within_budget(which, gemma_path, smollm2_path):
    path = gemma_path if which == "gemma" else smollm2_path
    out = subprocess.run([sys.executable, "-c", PEAK_CHILD, str(path), str(BUDGET)], capture_output=True, text=True,
                         check=True)
    grown, n_tokens, used = (int(x) for x in out.stdout.split())
    print(f"\n{which}: peak RSS grew {grown / 2**20:.1f} MiB over load + {n_tokens} tokens "
          f"(budget {BUDGET / 2**20:.0f} MiB, arena plan {used / 2**20:.1f} MiB)")
    assert grown <= BUDGET + (8 << 20)


def test_budget_too_small_names_the_smallest(gemma_path):
    with pytest.raises(gemma_accel.DeviceMemoryError, match=r"smallest that works is ([\d.]+) MiB") as e:
        gemma_accel.load(gemma_path, backend="npu", memory_budget="8MiB")
    assert isinstance(e.value, gemma_accel.Error)
    smallest = float(re.search(r"smallest that works is ([\d.]+) MiB", str(e.value)).group(1))
    with gemma_accel.load(gemma_path, backend="npu", memory_budget=int((smallest + 0.1) * 2**20)) as m:
        assert m.backend == "npu"
        assert len(m.generate("Hi", max_tokens=2, temperature=0).tokens) == 2
        plan = m.memory_plan()
        assert plan["used"] <= plan["budget"] == int((smallest + 0.1) * 2**20)
    with pytest.raises(ValueError, match="memory_budget"):
        gemma_accel.load(gemma_path, memory_budget="64MiB")  # the cpu backend takes budget_bytes
    with pytest.raises(ValueError, match="size"):
        gemma_accel.load(gemma_path, backend="npu", memory_budget="lots")


def test_memory_plan_and_stats(gemma_path):
    with gemma_accel.load(gemma_path, backend="npu", memory_budget="64MiB") as m:
        plan = m.memory_plan()
        assert plan["budget"] == BUDGET and 0 < plan["used"] <= BUDGET
        assert sum(plan["regions"].values()) <= plan["used"]
        for region in ("weights: layer slots", "KV cache", "activations"):
            assert plan["regions"][region] > 0, plan
        assert plan["sram"] == 8 << 20 and "scratchpad" not in plan["regions"]  # its own arena (the head streams into it)
        m.generate("Hi", max_tokens=3, temperature=0)
        stats = m.npu_stats()
        # every token re-reads the layers and the head: at least the whole file's matrices
        assert stats["layers_read"] >= 3 * m.hparams["n_layer"] and stats["bytes_read"] > 3 * 200e6, stats
    with gemma_accel.load(gemma_path, n_ctx=128) as cpu:
        assert cpu.memory_plan() is None and cpu.npu_stats() == {}


def test_only_the_compiled_steps_run(gemma_path):
    with gemma_accel.load(gemma_path, backend="npu", memory_budget="64MiB", n_ctx=256) as m:
        s = m.npu_stats()
        L = m.hparams["n_layer"]
        # compiled at load, before any token: a 64-token prefill step and a 1-token decode step,
        # the same ops (11 a layer, the embedding, the head's norm and matmul) at two shapes
        assert s["steps_compiled"] == 2 and s["prefill_rows"] == 64 and m.memory_plan()["steps"]["prefill"] == 64
        assert s["prefill_ops"] == s["decode_ops"] == 11 * L + 3, s
        assert s["ops_run"] == s["prefill_steps"] == s["decode_steps"] == 0
        c = m.generate("The capital of France is", max_tokens=6, temperature=0, stop=[])
        ids = m.tokenize("The capital of France is " * 20)[:100]  # two chunks: 64 and 36 padded to 64
        m.logits(ids)
        m.logits(ids[:1])                                           # one token: the decode step
        s = m.npu_stats()
        n_prompt = len(m.tokenize("The capital of France is"))
        assert s["steps_compiled"] == 2
        assert s["prefill_steps"] == 1 + 2 and s["decode_steps"] == (len(c.tokens) - 1) + 1, s
        assert s["padded_rows"] == (64 - n_prompt) + (64 - 36), s
        # every op that ran is one of a compiled step's (each of these steps wanted logits)
        assert s["ops_run"] == s["prefill_steps"] * s["prefill_ops"] + s["decode_steps"] * s["decode_ops"], s


def test_scratchpad_tiles_and_fit(gemma_path):
    """Every matmul streams its weight through the scratchpad in tiles planned at load; a
    scratchpad too small for one op's smallest layout is refused with the size that works."""
    with pytest.raises(gemma_accel.DeviceMemoryError, match=r"scratchpad.*smallest scratchpad that works is ([\d.]+) MiB") as e:
        gemma_accel.load(gemma_path, backend="npu", profile={"sram_bytes": 256 << 10})
    smallest = float(re.search(r"smallest scratchpad that works is ([\d.]+) MiB", str(e.value)).group(1))
    assert 0.25 < smallest < 8, smallest
    sram = int((smallest + 0.002) * 2**20)
    prompt = "The capital of France is"
    with gemma_accel.load(gemma_path, n_ctx=256) as cpu:
        want = cpu.generate(prompt, max_tokens=8, temperature=0, stop=[]).tokens
        ids = cpu.tokenize("The three primary colors are red, yellow and blue. " * 20)[:200]
        ref = log_softmax(cpu.logits(ids))
        want_long = cpu.generate(ids, max_tokens=4, temperature=0, stop=[]).tokens
    for sram_bytes in (sram, 8 << 20):
        with gemma_accel.load(gemma_path, backend="npu", n_ctx=256, profile={"sram_bytes": sram_bytes}) as m:
            assert m.generate(prompt, max_tokens=8, temperature=0, stop=[]).tokens == want
            # 200 positions: keys in several tiles when the scratchpad is small (online softmax
            # across tiles in prefill; decode splits them across the workers and merges)
            got = log_softmax(m.logits(ids))
            kl = (np.exp(ref) * (ref - got)).sum(-1)
            assert (ref.argmax(-1) == got.argmax(-1)).all() and kl.max() < 1e-4, kl.max()
            # decode after 200 positions: with small key tiles, several partials per head merged
            assert m.generate(ids, max_tokens=4, temperature=0, stop=[]).tokens == want_long
            s = m.npu_stats()
            assert s["attention_splits"] >= s["decode_steps"] * m.hparams["n_layer"] > 0, s
            if sram_bytes == sram:
                assert s["prefill_attention_Bc"] < 200 and s["attention_tiles"] > s["prefill_steps"], s
                assert s["decode_attention_Bc"] < 200 <= len(ids)
                assert s["attention_splits"] > s["decode_steps"] * m.hparams["n_layer"], s
            assert s["sram_bytes"] == sram_bytes and 0 < s["sram_peak_bytes"] <= sram_bytes, s
            # the weights crossed into the scratchpad once per step (every step wanted logits)
            steps = s["prefill_steps"] + s["decode_steps"]
            assert s["sram_bytes_moved"] >= steps * 200e6, s
            matmuls = steps * (4 * m.hparams["n_layer"] + 1)
            assert s["sram_tiles"] > matmuls if sram_bytes == sram else s["sram_tiles"] >= matmuls, s


def test_context_capacity_is_fixed(gemma_path):
    with gemma_accel.load(gemma_path, backend="npu", memory_budget="64MiB", n_ctx=128) as m:
        assert m.n_ctx == 128
        with pytest.raises(ValueError, match="context"):
            m.logits(list(range(2, 131)))
        c = m.generate("Hello", max_tokens=200, temperature=0, stop=[])  # stops at the capacity
        assert c.finish_reason == "length" and len(m.tokenize("Hello")) + len(c.tokens) <= 128 + 1


@pytest.mark.parametrize("name", ["intel-npu-lnl", "hexagon-v79", "xdna2"])
def test_device_profiles(name, gemma_path):
    from gemma_accel.npu_profiles import PROFILES
    prof = PROFILES[name]
    assert prof.sources and prof.n_ctx % 64 == 0 and prof.max_prompt_len % prof.chunk == 0
    with gemma_accel.load(gemma_path, backend="npu", memory_budget="160MiB", profile=name) as m:
        assert m.n_ctx == prof.n_ctx and m.npu_stats()["prefill_rows"] == prof.chunk
        plan = m.memory_plan()
        assert plan["profile"] == name and plan["steps"] == {"prefill": prof.chunk, "decode": 1}
        assert all(off % prof.align == 0 for off in plan["offsets"].values()), plan["offsets"]
        assert len(m.generate("Hi", max_tokens=2, temperature=0).tokens) == 2
    if prof.device_memory_bytes:
        with pytest.raises(ValueError, match="exceeds the device memory"):
            gemma_accel.load(gemma_path, backend="npu", profile=name, memory_budget=prof.device_memory_bytes + 1)


def test_custom_profile(gemma_path):
    custom = {"chunk": 32, "max_prompt_len": 96, "min_response_len": 20, "align": 4096, "sram_bytes": "2MiB"}
    with gemma_accel.load(gemma_path, backend="npu", profile=custom) as m:
        assert m.n_ctx == 128 + 64 and m.npu_stats()["prefill_rows"] == 32  # each rounded up to 64
        assert m.memory_plan()["profile"] == "custom"
        assert all(off % 4096 == 0 for off in m.memory_plan()["offsets"].values())
    for bad, what in [({"chunk": 48}, "power of two"), ({"chunk": 128, "max_prompt_len": 96}, "dividing"),
                      ({"tile": 3}, "unknown field"), ({"align": 8}, "align"), ({"sram_bytes": 0}, "sram_bytes")]:
        with pytest.raises(ValueError, match=what):
            gemma_accel.load(gemma_path, backend="npu", profile=bad)
    with pytest.raises(ValueError, match="unknown npu profile"):
        gemma_accel.load(gemma_path, backend="npu", profile="tpu-v9")
    with pytest.raises(ValueError, match="backend='npu'"):
        gemma_accel.load(gemma_path, profile="xdna2")


def log_softmax(x):
    x = x.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


@pytest.mark.slow  # two minutes; the sanitizers run the npu code on the other tests and the tiny models
@pytest.mark.parametrize("which", ["gemma", "smollm2"])
def test_matches_cpu_under_64_mib(which, gemma_path, smollm2_path):
    path = gemma_path if which == "gemma" else smollm2_path
    with gemma_accel.load(path, backend="npu", memory_budget=BUDGET, n_ctx=256) as npu, \
            gemma_accel.load(path, n_ctx=256) as cpu:
        assert npu.backend == "npu"
        kls, agree = [], []
        for prompt in PROMPTS:
            a = cpu.generate(prompt, max_tokens=32, temperature=0, stop=[])
            b = npu.generate(prompt, max_tokens=32, temperature=0, stop=[])
            assert a.tokens == b.tokens, f"{which} {prompt!r}: {a.text!r} != {b.text!r}"
            ids = cpu.tokenize(prompt) + a.tokens
            la, lb = cpu.logits(ids), npu.logits(ids)
            agree.append(la.argmax(-1) == lb.argmax(-1))
            pa, pb = log_softmax(la), log_softmax(lb)
            kls.append((np.exp(pa) * (pa - pb)).sum(-1))
    agree, kls = np.concatenate(agree), np.concatenate(kls)
    print(f"\n{which} under 64 MiB: top-1 {agree.mean():.4f}, mean KL {kls.mean():.2e} over {kls.size} positions")
    assert agree.mean() >= 0.99 and kls.mean() <= 1e-3
