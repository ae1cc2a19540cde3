"""The user-facing model: load(), generate(), chat(), tokenize(), logits().

One Model owns one C forward pass (KV cache, scratch, threads) over weights
mapped from the file.  Calls take turns: several threads may share a model and
each waits its turn (a stream keeps its turn until it ends or is closed).
close() never waits for an open stream: the stream fails at its next step.
During generation Python calls into C once per token (Model.step evaluates the
token and samples the next).
"""
import dataclasses
import logging
import os
import random
import threading
import time
from pathlib import Path

import numpy as np

from . import _core
from ._core import Error, ModelClosedError
from .text_stream import TextAssembler

log = logging.getLogger(__name__)

BACKENDS = ("cpu", "vulkan", "npu", "auto")
DEFAULT_N_BATCH = 256  # prefill chunk: each dequantized weight tile serves this many tokens
DEFAULT_NPU_BUDGET = "64MiB"  # backend="npu": the hard memory budget (its profile: npu_profiles.py)
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3}


def parse_bytes(value):
    """An int of bytes, or a string such as "64MiB", "1.5 GiB", "500MB"."""
    if isinstance(value, bool):
        raise ValueError(f"a byte count, not {value!r}")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str):
        import re
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*", value)
        if not m or m.group(2).lower() not in _UNITS:
            raise ValueError(f"cannot read {value!r} as a size (e.g. 64MiB, 1GiB, 500MB)")
        n = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    else:
        raise ValueError(f"a size must be an int of bytes or a string such as '64MiB', got {value!r}")
    if n < 1 << 20:
        raise ValueError(f"a memory budget of {n} bytes is below 1 MiB")
    return n
REPEAT_LAST_N = 64


@dataclasses.dataclass
class Completion:
    """Result of generate()/chat(): text, generated token ids, why it ended, timings.

    finish_reason is "stop" (end-of-turn/EOS token or a stop string) or "length"
    (max_tokens reached).  timings holds load_s, prompt_tokens, prompt_s,
    generated_tokens, generate_s (and cached_tokens: prompt tokens reused from the
    previous call's KV cache).
    """
    text: str
    tokens: list
    finish_reason: str
    timings: dict


class CompletionStream:
    """Iterator of text pieces from generate(stream=True); .completion is set at the end."""

    def __init__(self, gen):
        self._gen = gen
        self.completion = None

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            item = next(self._gen)
            if isinstance(item, Completion):
                self.completion = item
                self._gen.close()
                raise StopIteration
            if item:
                return item

    def close(self):
        """Stop generating early (releases the model)."""
        self._gen.close()


def _validate_sampling(max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, seed):
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 0:
        raise ValueError(f"max_tokens must be a non-negative int, got {max_tokens!r}")
    if not (temperature >= 0):
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    if not isinstance(top_k, int) or top_k < 0:
        raise ValueError(f"top_k must be a non-negative int (0 disables it), got {top_k!r}")
    if not (0 < top_p <= 1):
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if not (0 <= min_p <= 1):
        raise ValueError(f"min_p must be in [0, 1], got {min_p!r}")
    if not (repeat_penalty > 0):
        raise ValueError(f"repeat_penalty must be > 0, got {repeat_penalty!r}")
    if seed is not None and (not isinstance(seed, int) or seed < 0):
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


def _default_n_ctx(hp: dict) -> int:
    """The trained context, capped so the KV cache fits in half the available memory."""
    kv_per_token = 2 * hp["n_head_kv"] * hp["head_dim"] * 4 * hp["n_layer"]
    cap = max(512, _available_memory() // 2 // kv_per_token)
    return int(min(hp["n_ctx_train"], cap))


class Model:
    """A loaded model.  Use gemma_accel.load() to make one."""

    def __init__(self, path, *, backend="cpu", n_ctx=None, n_threads=None, n_batch=None,
                 act_bits=16, budget_bytes=None, device=0, memory_budget=None, profile=None):
        from .checkpoint import open_checkpoint
        from .info import default_threads

        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if not isinstance(device, int) or isinstance(device, bool) or device < 0:
            raise ValueError(f"device must be a non-negative int, got {device!r}")
        t0 = time.perf_counter()
        self._core = self._file = None
        self.path = Path(path)
        self.backend = backend  # the one it runs on, once loaded
        self._turn = threading.Condition()
        self._owner = None  # thread id of the call whose turn it is
        self._closed = False
        self._file = open_checkpoint(self.path)
        self.hparams = self._file.hparams
        table = self._file.weight_table()
        self.tokenizer = self._file.tokenizer()
        self.chat_template = self._file.chat_template
        hp = self.hparams
        if memory_budget is not None and backend != "npu":
            raise ValueError("memory_budget is the npu backend's hard budget; other backends take budget_bytes")
        if profile is not None and backend != "npu":
            raise ValueError("profile is the npu backend's device profile; it needs backend='npu'")
        self.npu_profile = None
        sram_bytes = align = 0
        if backend == "npu":
            # everything in one arena of memory_budget bytes, at the profile's static shapes
            from .npu_profiles import resolve_profile
            prof = self.npu_profile = resolve_profile(profile)
            budget_bytes = parse_bytes(memory_budget if memory_budget is not None else DEFAULT_NPU_BUDGET)
            if prof.device_memory_bytes and budget_bytes > prof.device_memory_bytes:
                raise ValueError(f"memory_budget {budget_bytes / 2**20:.0f} MiB exceeds the device memory of npu "
                                 f"profile {prof.name!r} ({prof.device_memory_bytes / 2**20:.0f} MiB)")
            if n_ctx is None:
                n_ctx = min(prof.n_ctx, hp["n_ctx_train"])
            if n_batch is None:
                n_batch = prof.chunk
            sram_bytes, align = prof.sram_bytes, prof.align
        if n_batch is None:
            n_batch = DEFAULT_N_BATCH
        if n_ctx is None:
            n_ctx = _default_n_ctx(hp)
        if not isinstance(n_ctx, int) or n_ctx < 1:
            raise ValueError(f"n_ctx must be a positive int, got {n_ctx!r}")
        if n_ctx > hp["n_ctx_train"]:
            log.warning("n_ctx %d exceeds the trained context %d", n_ctx, hp["n_ctx_train"])
        self.n_threads = int(n_threads or default_threads())
        if self.n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads!r}")
        if act_bits not in (8, 16):
            raise ValueError(f"act_bits must be 8 or 16, got {act_bits!r}")
        self.act_bits = act_bits
        self._table = table  # the weight views, for more C models over the same file (tests, pools)
        if budget_bytes is not None and (not isinstance(budget_bytes, int) or budget_bytes < 1):
            raise ValueError(f"budget_bytes must be a positive int or None, got {budget_bytes!r}")
        # "auto": the GPU when it can run the model, else the CPU without a warning
        self._core = _core.Model(hp, table, n_ctx, n_batch, self.n_threads, act_bits,
                                 backend=backend,
                                 budget_bytes=budget_bytes or 0, device=device, sram_bytes=sram_bytes,
                                 align=align)
        if self._core.fallback:  # the whole model runs on the CPU instead
            (log.info if backend == "auto" else log.warning)("%s; running %s on the CPU", self._core.fallback,
                                                             self.path.name)
        self.backend = self._core.backend
        self.n_ctx = n_ctx
        self.n_vocab = hp["n_vocab"]
        self.load_s = time.perf_counter() - t0
        log.info("loaded %s (%s, %d layers) in %.2f s", self.path.name, hp["arch_name"], hp["n_layer"],
                 self.load_s)

    # ------------------------------------------------------------ lifecycle
    def close(self):
        """Free the KV cache and scratch and unmap the file.  Returns promptly: a C call
        running on another thread finishes first (the C model waits for it), and a stream
        still open from this model raises ModelClosedError at its next step."""
        with self._turn:
            self._closed = True
            core, f = self._core, self._file
            self._file = None
            self._turn.notify_all()  # callers waiting for their turn see the model closed
        if core is not None:
            core.close()  # waits, with the GIL released, for an eval/step in flight
        if f is not None:
            f.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self._closed or self._core is None else f"n_ctx={self.n_ctx}"
        arch = getattr(self, "hparams", {}).get("arch_name", "?")
        return f"<gemma_accel.Model {self.path.name} {arch} {state}>"

    def reset(self):
        """Forget the KV cache (the next call starts from an empty context)."""
        with self._acquire():
            self._core.truncate(0)

    # ------------------------------------------------------------ tokens
    def tokenize(self, text, add_bos=True, special=False):
        """Token ids of text (str or bytes)."""
        if self.tokenizer is None:
            raise Error("this model has no tokenizer")
        return self.tokenizer.encode(text, add_bos=add_bos, special=special)

    def detokenize(self, ids, special=False):
        """Text of token ids."""
        if self.tokenizer is None:
            raise Error("this model has no tokenizer")
        return self.tokenizer.decode(list(ids), special=special)

    # ------------------------------------------------------------ evaluation
    class _Held:
        """One call's turn on the model (a stream keeps it until it ends).  Turns are
        taken in a Condition rather than held as a plain lock so that close() never waits
        for a stream that is open but not iterating."""

        def __init__(self, model):
            self.model = model

        def __enter__(self):
            m = self.model
            me = threading.get_ident()
            with m._turn:
                if m._owner == me:
                    raise RuntimeError("this thread is still iterating a stream from this model; "
                                       "finish or close it before starting another call")
                while m._owner is not None and not m._closed:
                    m._turn.wait()
                if m._closed:
                    raise ModelClosedError("the model is closed")
                m._owner = me
            return m

        def __exit__(self, *exc):
            m = self.model
            with m._turn:
                m._owner = None
                m._turn.notify()

    def _acquire(self):
        return Model._Held(self)

    def _check_ids(self, ids):
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.n_vocab]
        if bad:
            raise ValueError(f"token id {bad[0]} is outside the vocabulary (0..{self.n_vocab - 1})")
        return ids

    def _prefill(self, ids):
        """Bring the KV cache to ids (reusing the cached prefix); leaves the last logits ready.
        Returns how many tokens came from the cache."""
        if len(ids) > self.n_ctx:
            raise ValueError(f"prompt of {len(ids)} tokens exceeds the context of {self.n_ctx} tokens")
        # the C model keeps the cached prefix that ids share (all of it, unless the sliding
        # window moved past the cut); one token is always evaluated, for its logits
        keep = self._core.keep_prefix(ids, len(ids) - 1)
        n_batch = self._core.n_batch
        for start in range(keep, len(ids), n_batch):
            chunk = ids[start:start + n_batch]
            last = start + n_batch >= len(ids)
            self._core.eval(chunk, logits="last" if last else "none")
        return keep

    def memory_plan(self):
        """backend="npu": the arena every byte of the engine lives in, as {"budget", "used",
        "regions": {name: bytes}, "offsets": {name: first offset}, "sram": the scratchpad's
        bytes (a second arena, beside the budget's, as on-chip memory is beside device memory),
        "profile": its name, "steps": the two compiled step shapes in tokens}; None on the
        other backends."""
        with self._acquire():
            plan = self._core.memory_plan()
            if plan is None:
                return None
        regions, offsets = {}, {}
        for name, offset, size in plan["regions"]:
            regions[name] = regions.get(name, 0) + size
            offsets.setdefault(name, offset)
            stats = self._core.backend_stats()
        return {"budget": plan["budget"], "used": plan["used"], "regions": regions, "offsets": offsets,
                "sram": int(stats.get("sram_bytes", 0)),
                "profile": self.npu_profile.name if self.npu_profile else None,
                "steps": {"prefill": self._core.n_batch, "decode": 1}}

    def npu_stats(self):
        """backend="npu": its counters: bytes read from the file, seconds reading and waiting for
        reads, layers and head tiles read; the compiled steps (prefill_rows, prefill_ops,
        decode_ops) and how often each ran (prefill_steps, decode_steps, ops_run, padded_rows);
        seconds per stage (exec_s, matmul_s, attention_s, get_rows_s).  {} on the other backends."""
        with self._acquire():
            return self._core.backend_stats()

    def logits(self, ids, *, last_n=None):
        """float32 logits of shape (len(ids), n_vocab), evaluated from an empty cache.
        last_n: return only the last last_n rows (saves memory on long prompts)."""
        ids = self._check_ids(ids)
        if not ids:
            raise ValueError("logits() needs at least one token")
        if len(ids) > self.n_ctx:
            raise ValueError(f"{len(ids)} tokens exceed the context of {self.n_ctx} tokens")
        rows = len(ids) if last_n is None else max(1, min(int(last_n), len(ids)))
        with self._acquire():
            self._core.truncate(0)
            out = np.empty((rows, self.n_vocab), dtype=np.float32)
            first_wanted = len(ids) - rows
            n_batch = self._core.n_batch
            for start in range(0, len(ids), n_batch):
                chunk = ids[start:start + n_batch]
                end = start + len(chunk)
                if end <= first_wanted:
                    self._core.eval(chunk, logits="none")
                elif rows == 1:  # only the last position: no T x n_vocab block
                    out[0] = self._core.eval(chunk, logits="last")
                else:
                    block = self._core.eval(chunk, logits="all")
                    lo = max(start, first_wanted)
                    out[lo - first_wanted:end - first_wanted] = block[lo - start:]
            return out

    # ------------------------------------------------------------ generation
    def generate(self, prompt, *, max_tokens=256, temperature=0.7, top_k=64, top_p=0.95, min_p=0.0,
                 repeat_penalty=1.0, seed=None, stop=None, stream=False):
        """Continue prompt (str, or a list of token ids).  Returns a Completion, or with
        stream=True an iterator of text pieces whose .completion is set at the end."""
        _validate_sampling(max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, seed)
        if isinstance(prompt, str):
            ids = self.tokenize(prompt, add_bos=True, special=False)
        else:
            ids = self._check_ids(prompt)
        if not ids:
            raise ValueError("the prompt is empty")
        stop = [stop] if isinstance(stop, str) else list(stop or [])
        gen = self._generate(ids, max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, seed, stop)
        if stream:
            return CompletionStream(gen)
        for item in gen:
            if isinstance(item, Completion):
                return item
        raise AssertionError("generation ended without a completion")

    def _generate(self, ids, max_tokens, temperature, top_k, top_p, min_p, repeat_penalty, seed, stop):
        with self._acquire():
            t0 = time.perf_counter()
            cached = self._prefill(ids)
            t_prompt = time.perf_counter() - t0
            if seed is None:
                seed = random.SystemRandom().getrandbits(63)
            sampler = _core.Sampler(self.n_vocab, float(temperature), top_k, float(top_p), float(min_p),
                                    float(repeat_penalty), REPEAT_LAST_N, seed)
            sampler.accept(ids)
            eog = set(self.tokenizer.eog_ids) if self.tokenizer is not None else set()
            text = TextAssembler(stop)
            tokens, finish = [], "length"
            t1 = time.perf_counter()
            if max_tokens > 0:
                tok = self._core.sample(sampler)
                while True:
                    if tok in eog:
                        finish = "stop"
                        break
                    tokens.append(tok)
                    if self.tokenizer is not None:
                        piece = text.feed(self.tokenizer.token_to_piece(tok))
                        if piece:
                            yield piece
                            if self._closed:
                                raise ModelClosedError("the model was closed while this stream was open")
                        if text.stopped:
                            finish = "stop"
                            break
                    if len(tokens) >= max_tokens:
                        break
                    if self._core.n_past >= self.n_ctx:  # the KV cache is full: tok cannot be evaluated
                        break
                    tok = self._core.step(tok, sampler)
            tail = text.finish()
            if tail:
                yield tail
            t_gen = time.perf_counter() - t1
            timings = {"load_s": self.load_s, "prompt_tokens": len(ids), "cached_tokens": cached,
                       "prompt_s": t_prompt, "generated_tokens": len(tokens), "generate_s": t_gen}
            log.info("prompt %d tokens in %.3f s, generated %d tokens in %.3f s", len(ids), t_prompt,
                     len(tokens), t_gen)
        # yielded after the lock is released: a finished stream must not hold the model
        yield Completion(text.text, tokens, finish, timings)

    def chat(self, messages, **kwargs):
        """Generate the assistant's reply to messages ([{"role", "content"}, ...]) using the
        model's chat template; stops at end-of-turn.  Same keywords as generate()."""
        from .chat import render_chat, special_text

        prompt = render_chat(self, messages)
        bos = special_text(self.tokenizer, self.tokenizer.bos_id)
        ids = self.tokenize(prompt, add_bos=not (bos and prompt.startswith(bos)), special=True)
        return self.generate(ids, **kwargs)


def load(path=None, *, backend="cpu", n_ctx=None, n_threads=None, act_bits=16, budget_bytes=None,
         device=0, memory_budget=None, profile=None) -> Model:
    """Load a GGUF file or a Hugging Face folder (default: the bundled Gemma 3 270M).

    n_ctx: KV-cache size in tokens (default: the trained context, capped by memory).
    budget_bytes: the most working memory (KV cache, scratch, weight copies) the backend may
    reserve; MemoryError, naming the budget, when the model needs more (default: no limit).
    backend: "cpu", "vulkan", "npu", or "auto" (the GPU when it can run the model, quietly the
    CPU otherwise); device: which device of the backend (gemma_accel.info()["vulkan_devices"]).
    n_threads: worker threads (default: the CPUs this process may use).
    act_bits: 16 (default) carries activations into the integer dot products as
    int8 + int8 residual, matching float references closely; 8 is plain int8 as
    llama.cpp does: faster, but measurably less exact on Gemma 3.
    memory_budget (backend="npu"): the hard budget, bytes or "64MiB" (the default): every
    byte the engine allocates (streamed weight slots, KV pool, activations, scratch) lives in
    one arena of that size; the weights are read from the file a layer at a time.  Too small
    a budget raises gemma_accel.DeviceMemoryError naming the smallest that works.
    profile (backend="npu"): the device it plans for: None (generic: a 64-token prefill
    chunk, n_ctx 512, an 8 MiB scratchpad), a preset ("intel-npu-lnl", "hexagon-v79",
    "xdna2"; gemma_accel.npu_profiles lists their sizes and sources) or a dict of a custom
    profile's fields.  It sets the two static step shapes (a prefill chunk and a 1-token
    decode step, compiled at load), the KV capacity, the scratchpad and the alignment.
    """
    if path is None:
        from .model_paths import default_model_path
        path = default_model_path()
    path = Path(os.fspath(path))
    if not path.exists():
        raise FileNotFoundError(f"no such model file or folder: {path}")
    return Model(path, backend=backend, n_ctx=n_ctx, n_threads=n_threads, act_bits=act_bits,
                 budget_bytes=budget_bytes, device=device, memory_budget=memory_budget, profile=profile)
