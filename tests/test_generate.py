"""The user API on the real Gemma 3 270M: generate, stream, chat, tokenize, logits,
errors, threads, Ctrl-C, memory."""
import _thread
import gc
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import gemma_accel
from gemma_accel.text_stream import TextAssembler


@pytest.fixture(scope="module")
def model(gemma_path):
    with gemma_accel.load(gemma_path, n_ctx=2048) as m:
        yield m


# The default model is google/gemma-3-270m, the pretrained base model: it continues
# text well but was not tuned to chat, so chat tests use a few-shot conversation.


def test_greedy_generate_returns_completion(model):
    c = model.generate("Paris is the capital of", max_tokens=8, temperature=0)
    assert isinstance(c, gemma_accel.Completion)
    assert c.text.startswith(" France")
    assert c.finish_reason == "length" and len(c.tokens) == 8
    assert c.text == model.detokenize(c.tokens)
    t = c.timings
    assert t["prompt_tokens"] == len(model.tokenize("Paris is the capital of"))
    assert t["generated_tokens"] == 8 and t["generate_s"] > 0 and t["prompt_s"] > 0 and t["load_s"] > 0


def test_greedy_is_deterministic_and_prefix_cache_is_exact(model):
    a = model.generate("Once upon a time", max_tokens=12, temperature=0)
    b = model.generate("Once upon a time", max_tokens=12, temperature=0)
    assert a.tokens == b.tokens
    assert b.timings["cached_tokens"] > 0  # second call reused the prompt's KV cache
    model.reset()
    c = model.generate("Once upon a time", max_tokens=12, temperature=0)
    assert c.tokens == a.tokens and c.timings["cached_tokens"] == 0


def test_seed_makes_sampling_reproducible(model):
    kw = dict(max_tokens=16, temperature=1.0, top_k=0, top_p=1.0, seed=1234)
    a = model.generate("My favourite colour is", **kw)
    b = model.generate("My favourite colour is", **kw)
    assert a.tokens == b.tokens
    others = {tuple(model.generate("My favourite colour is", **{**kw, "seed": s}).tokens) for s in range(4)}
    assert len(others) > 1


def test_prompt_as_token_ids(model):
    ids = model.tokenize("Hello, my name is")
    assert ids[0] == 2  # <bos>
    c1 = model.generate(ids, max_tokens=5, temperature=0)
    c2 = model.generate("Hello, my name is", max_tokens=5, temperature=0)
    assert c1.tokens == c2.tokens


def test_stop_string_ends_generation_and_is_not_shown(model):
    full = model.generate("Count: 1, 2, 3, 4, 5,", max_tokens=20, temperature=0)
    assert "7" in full.text
    c = model.generate("Count: 1, 2, 3, 4, 5,", max_tokens=20, temperature=0, stop=["7"])
    assert c.finish_reason == "stop"
    assert c.text == full.text[: full.text.index("7")]


def test_stream_matches_non_stream(model):
    c = model.generate("Write a haiku about the sea.", max_tokens=24, temperature=0)
    stream = model.generate("Write a haiku about the sea.", max_tokens=24, temperature=0, stream=True)
    pieces = list(stream)
    assert "".join(pieces) == c.text
    assert model.generate("Hi", max_tokens=1, temperature=0).tokens  # a finished stream released the model
    assert stream.completion.tokens == c.tokens and stream.completion.finish_reason == c.finish_reason


def test_text_assembler_never_splits_utf8_or_shows_stop_prefix():
    asm = TextAssembler(stop=["<END>"])
    out = []
    for chunk in ["é".encode()[:1], "é".encode()[1:], b"ab<E", b"N", b"x", "日本".encode()]:
        out.append(asm.feed(chunk))
    assert out[0] == "" and out[1] == "é"
    assert "<" not in out[2] and out[3] == ""  # "<EN" could still become "<END>"
    assert out[4] == "<ENx"
    assert asm.finish() == "" and asm.text == "éab<ENx日本"
    asm2 = TextAssembler(stop=["<END>"])
    shown = asm2.feed(b"hi <EN") + asm2.feed(b"D> bye")
    assert shown == "hi " and asm2.stopped


FEW_SHOT = [
    {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Capital of Italy?"}, {"role": "assistant", "content": "Rome"},
    {"role": "user", "content": "Capital of Spain?"}, {"role": "assistant", "content": "Madrid"},
    {"role": "user", "content": "Capital of France?"},
]


def test_chat_prompt_is_gemmas_format_and_answers(model):
    from gemma_accel.chat import render_chat
    msgs = [{"role": "system", "content": "Be brief."}] + FEW_SHOT
    prompt = render_chat(model, msgs)
    assert prompt.startswith("<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
                             "<start_of_turn>model\nHello!<end_of_turn>\n")
    assert prompt.endswith("<start_of_turn>user\nCapital of France?<end_of_turn>\n<start_of_turn>model\n")
    ids = model.tokenize(prompt, add_bos=False, special=True)
    assert ids[:3] == [2, 105, 2364] and ids.count(2) == 1 and ids.count(106) == 7
    c = model.chat(msgs, max_tokens=8, temperature=0)
    assert c.text.startswith("Paris")
    assert c.tokens == model.generate(ids, max_tokens=8, temperature=0).tokens


def test_chat_continuation_is_token_identical_to_llama_cpp(model, gemma_path):
    llama_cpp = pytest.importorskip("llama_cpp")
    from gemma_accel.chat import render_chat
    ids = model.tokenize(render_chat(model, FEW_SHOT), add_bos=False, special=True)
    ref = llama_cpp.Llama(model_path=str(gemma_path), n_ctx=512, n_threads=2, verbose=False)
    ref.eval(ids)
    expected = []
    for _ in range(12):
        expected.append(ref.sample(temp=0))
        ref.eval([expected[-1]])
    assert model.generate(ids, max_tokens=12, temperature=0).tokens == expected


def test_generation_stops_on_end_of_generation_tokens(model, monkeypatch):
    full = model.generate("One, two, three, four,", max_tokens=6, temperature=0)
    assert full.text.startswith(" five, six")
    stop_token = full.tokens[2]  # " six"
    monkeypatch.setattr(model.tokenizer, "eog_ids", frozenset({stop_token}))
    c = model.generate("One, two, three, four,", max_tokens=6, temperature=0)
    assert c.finish_reason == "stop" and c.tokens == full.tokens[:2]
    assert 106 in gemma_accel.load(model.path, n_ctx=8).tokenizer.eog_ids  # <end_of_turn>


def test_chat_rejects_bad_roles(model):
    with pytest.raises(ValueError, match="alternating"):
        model.chat([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])


def test_logits_shape_and_agreement_with_generate(model):
    ids = model.tokenize("The quick brown fox")
    logits = model.logits(ids)
    assert logits.shape == (len(ids), model.n_vocab) and logits.dtype == np.float32
    c = model.generate(ids, max_tokens=1, temperature=0)
    assert c.tokens[0] == int(logits[-1].argmax())


@pytest.mark.parametrize("kw, match", [
    ({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p"), ({"top_p": 1.5}, "top_p"),
    ({"max_tokens": -1}, "max_tokens"), ({"top_k": -2}, "top_k"), ({"min_p": 2}, "min_p"),
    ({"repeat_penalty": 0}, "repeat_penalty"),
])
def test_bad_sampling_parameters(model, kw, match):
    with pytest.raises(ValueError, match=match):
        model.generate("hi", **kw)


def test_context_full_returns_text_with_finish_length(gemma_path, model):
    """Generation that fills the KV cache returns what it has, finish_reason "length", as
    llama-cpp-python and the OpenAI API do; the tokens are the first ones a large context
    gives.  A prompt longer than n_ctx is refused before any work."""
    prompt = "The history of the Roman empire"
    with gemma_accel.load(gemma_path, n_ctx=16) as small:
        n_prompt = len(small.tokenize(prompt))
        with pytest.raises(ValueError, match="exceeds the context"):
            small.generate("word " * 40, max_tokens=4)
        c = small.generate(prompt, max_tokens=64, temperature=0)
        assert c.finish_reason == "length"
        assert len(c.tokens) == 16 - n_prompt + 1  # the last sampled token needs no cache slot
        assert c.text and c.text == small.detokenize(c.tokens)
        pieces = small.generate(prompt, max_tokens=64, temperature=0, stream=True)
        assert "".join(pieces) == c.text and pieces.completion.finish_reason == "length"
        assert small.generate("Hello", max_tokens=2, temperature=0).tokens  # still usable
    assert model.generate(prompt, max_tokens=len(c.tokens), temperature=0).tokens == c.tokens


def test_unknown_architecture():
    from gemma_accel import hparams
    with pytest.raises(gemma_accel.Error, match="unknown architecture 'mamba'"):
        hparams.from_gguf({"general.architecture": "mamba"}, 100)


def _in_threads(fn, args):
    """Runs fn(a) for every a at once, each on a thread of its own; returns what they raised."""
    errors = []

    def guarded(a):
        try:
            fn(a)
        except Exception as exc:  # pragma: no cover - returned to the caller
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_threads_share_a_model_safely(model):
    prompts = ["One", "Two", "Three", "Four"]
    expected = {p: model.generate(p, max_tokens=6, temperature=0).tokens for p in prompts}
    results = {}

    def worker(p):
        results[p] = model.generate(p, max_tokens=6, temperature=0).tokens

    assert not _in_threads(worker, prompts) and results == expected


def test_open_stream_in_same_thread_raises_instead_of_deadlocking(model):
    stream = model.generate("Hello", max_tokens=8, temperature=0, stream=True)
    next(stream)
    with pytest.raises(RuntimeError, match="stream"):
        model.generate("Hi", max_tokens=2)
    stream.close()
    assert model.generate("Hi", max_tokens=2, temperature=0).tokens


def test_ctrl_c_during_long_prompt_leaves_model_usable(model):
    long_prompt = "The rain in Spain stays mainly in the plain. " * 120
    expected = model.generate("Hello there", max_tokens=4, temperature=0).tokens
    # Garbage from earlier tests (models, torch references) collected inside the window would
    # run finalizers there, and an interrupt landing in a finalizer is swallowed as unraisable.
    gc.collect()
    gc.disable()
    # Ctrl-C as Python installs it: an earlier test's library may have replaced the handler, and
    # interrupt_main does nothing while SIGINT is SIG_DFL or SIG_IGN
    previous_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    try:
        timer.start()
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            model.generate(long_prompt, max_tokens=4)
            time.sleep(5)  # in case generation finished before the interrupt arrived
        assert time.perf_counter() - start < 5
    finally:
        timer.join()
        gc.enable()
        signal.signal(signal.SIGINT, previous_handler)
    assert model.generate("Hello there", max_tokens=4, temperature=0).tokens == expected


def test_close_and_context_manager(gemma_path):
    m = gemma_accel.load(gemma_path, n_ctx=64)
    with m:
        assert m.generate("Hi", max_tokens=1, temperature=0).tokens
    assert m.closed and "closed" in repr(m)
    with pytest.raises(gemma_accel.ModelClosedError, match="closed"):
        m.generate("Hi", max_tokens=1)
    m.close()  # idempotent


def _close_returns_promptly(m):
    t0 = time.perf_counter()
    done = threading.Event()
    threading.Thread(target=lambda: (m.close(), done.set()), daemon=True).start()
    assert done.wait(10), "Model.close() did not return"
    return time.perf_counter() - t0


def test_close_with_an_open_stream_in_the_same_thread(gemma_path):
    """A loop that breaks out of a stream and then closes the model: close() returns, and the
    stream's next step raises ModelClosedError instead of touching freed memory."""
    m = gemma_accel.load(gemma_path, n_ctx=128)
    s = m.generate("Once upon a time", max_tokens=32, temperature=0, stream=True)
    first = next(iter(s))
    assert first
    t0 = time.perf_counter()
    m.close()
    assert time.perf_counter() - t0 < 5
    with pytest.raises(gemma_accel.ModelClosedError, match="closed"):
        for _ in s:
            pass
    with pytest.raises(gemma_accel.ModelClosedError):
        m.generate("Hi", max_tokens=1)


def test_close_from_another_thread_ends_a_running_stream(gemma_path):
    """A keep-alive reaper closes the model from a timer thread while a stream is being iterated
    on this one: close() returns promptly and the stream stops with ModelClosedError."""
    m = gemma_accel.load(gemma_path, n_ctx=512)
    s = m.generate("Write a long story about the sea.", max_tokens=400, temperature=0, stream=True)
    got = [next(s)]
    elapsed = {}
    timer = threading.Timer(0.2, lambda: elapsed.setdefault("close", _close_returns_promptly(m)))
    timer.start()
    with pytest.raises(gemma_accel.ModelClosedError):
        for piece in s:
            got.append(piece)
    timer.join()
    assert elapsed["close"] < 5 and len(got) > 1


def test_callers_waiting_for_their_turn_see_the_close(gemma_path):
    """A thread waiting for the model while a stream holds it is released by close(), with
    ModelClosedError, instead of waiting forever for a stream nobody iterates."""
    m = gemma_accel.load(gemma_path, n_ctx=128)
    s = m.generate("Hello", max_tokens=16, temperature=0, stream=True)
    next(s)
    outcome = []

    def waiter():
        try:
            m.generate("Hi", max_tokens=2)
            outcome.append("ran")
        except gemma_accel.ModelClosedError as e:
            outcome.append(e)

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.2)
    assert th.is_alive() and not outcome  # waiting for its turn
    assert _close_returns_promptly(m) < 5
    th.join(10)
    assert not th.is_alive() and isinstance(outcome[0], gemma_accel.ModelClosedError)
    s.close()


def test_core_close_waits_for_a_running_eval(gemma_path):
    """_core.Model.close() while another thread is inside eval waits for it (no use after
    free), a second concurrent eval is refused, and calls after close raise."""
    m = gemma_accel.load(gemma_path, n_ctx=512)
    core = m._core
    ids = m.tokenize("The rain in Spain stays mainly in the plain. " * 30)[:500]
    result = {}

    def run():
        try:
            result["logits"] = core.eval(ids, logits="last")
        except Exception as e:  # pragma: no cover - reported below
            result["error"] = e

    th = threading.Thread(target=run)
    th.start()
    time.sleep(0.05)
    busy = None
    if th.is_alive():
        try:
            core.eval([2], logits="last")
        except RuntimeError as e:
            busy = e
    core.close()  # returns only after eval finished: under ASan a free under it would be reported
    th.join()
    assert "error" not in result and np.isfinite(result["logits"]).all()
    assert busy is None or "busy" in str(busy)
    with pytest.raises(gemma_accel.ModelClosedError):
        core.eval([2])
    m.close()


def test_models_share_the_process_thread_pool(model, gemma_path, smollm2_path):
    """Loaded models share one set of worker threads: three more 2-thread models add no
    threads to the process, a 3-thread model adds one worker, and two models generating at
    once on two Python threads give the tokens each gives alone."""
    def os_threads():
        return len(os.listdir("/proc/self/task"))

    gc.collect()  # models earlier tests dropped without close() give their handles back
    base_workers, base_threads = gemma_accel.info()["pool_threads"], os_threads()
    assert base_workers == model.n_threads - 1
    others = [gemma_accel.load(p, n_ctx=256, n_threads=2) for p in (gemma_path, smollm2_path, gemma_path)]
    try:
        assert gemma_accel.info()["pool_threads"] == max(base_workers, 1)
        assert os_threads() <= base_threads + max(0, 1 - base_workers)
        with gemma_accel.load(smollm2_path, n_ctx=64, n_threads=3) as wide:
            assert gemma_accel.info()["pool_threads"] == max(base_workers, 2)
            assert wide.generate("Hi", max_tokens=3, temperature=0).tokens
        prompts = {0: "The capital of France is", 1: "One, two, three,"}
        alone = {i: others[i].generate(p, max_tokens=16, temperature=0).tokens for i, p in prompts.items()}
        together = {}

        def run(i):
            for _ in range(3):
                c = others[i].generate(prompts[i], max_tokens=16, temperature=0)
                together.setdefault(i, []).append(c.tokens)

        assert not _in_threads(run, prompts) and all(together[i] == [alone[i]] * 3 for i in prompts)
    finally:
        for m in others:
            m.close()
    assert gemma_accel.info()["pool_threads"] == base_workers


def test_pool_threads_end_with_the_last_model_and_restart(gemma_path):
    """In a fresh process: the workers end with the last model; loading again makes new ones,
    whose first run may be published before they start (once a deadlock).  A timeout turns a
    hang into a failure."""
    code = ("import gemma_accel\n"
            f"m = gemma_accel.load({str(gemma_path)!r}, n_ctx=64, n_threads=3)\n"
            "assert gemma_accel.info()['pool_threads'] == 2\n"
            "m.close()\n"
            "assert gemma_accel.info()['pool_threads'] == 0\n"
            "for i in range(30):\n"
            f"    with gemma_accel.load({str(gemma_path)!r}, n_ctx=32, n_threads=2 + i % 3) as m:\n"
            "        assert m.generate('Hi', max_tokens=2, temperature=0).tokens\n"
            "assert gemma_accel.info()['pool_threads'] == 0\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


@pytest.mark.slow
def test_peak_rss_below_twice_the_file_size(gemma_path):
    # VmHWM is the new address space's own peak; ru_maxrss would carry over the
    # (large) pytest parent's peak across fork + exec
    code = ("import gemma_accel\n"
            "m = gemma_accel.load()\n"
            "m.generate('Tell me about the moon.', max_tokens=16, temperature=0)\n"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
            "print(int(hwm.split()[1]) * 1024)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    peak = int(out.stdout.strip().splitlines()[-1])
    size = os.path.getsize(gemma_path)
    print(f"\npeak RSS {peak / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB file")
    assert peak < 2 * size


def test_load_default_model_and_backends(gemma_path, caplog):
    with pytest.raises(ValueError, match="backend"):
        gemma_accel.load(gemma_path, backend="tpu")
    # a backend this build lacks runs the whole model on the CPU, saying why
    with gemma_accel.load(gemma_path, n_ctx=128) as m:
        core = gemma_accel._core.Model(m.hparams, m._table, 128, 64, 2, 16, backend="tpu")
        assert core.backend == "cpu" and core.fallback == "backend tpu is not built into this gemma_accel"
    with gemma_accel.load(gemma_path, backend="npu") as m:
        assert m.backend == "npu" and m._core.fallback is None
    with gemma_accel.load(gemma_path, n_ctx=128) as m:
        assert m.backend == "cpu" and m._core.fallback is None
    # vulkan and auto take the GPU where there is one (lavapipe in CI); without one, vulkan
    # warns and auto quietly takes the CPU
    has_gpu = bool(gemma_accel.info()["vulkan_devices"])
    for name in ("vulkan", "auto"):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="gemma_accel"):
            with gemma_accel.load(gemma_path, n_ctx=128, backend=name) as m:
                assert m.backend == ("vulkan" if has_gpu else "cpu"), m._core.fallback
                assert (m._core.fallback is None) == has_gpu
        warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert bool(warned) == (name == "vulkan" and not has_gpu)
    # a device this machine lacks is a reason to run on the CPU, named in the warning
    with gemma_accel.load(gemma_path, n_ctx=128, backend="vulkan", device=7) as m:
        assert m.backend == "cpu" and m._core.fallback.startswith("backend vulkan cannot run this model: ")
        if has_gpu:
            assert "no Vulkan device 7" in m._core.fallback
    with pytest.raises(ValueError, match="device"):
        gemma_accel.load(gemma_path, device=-1)
    with pytest.raises(FileNotFoundError):
        gemma_accel.load("/nonexistent/model.gguf")
