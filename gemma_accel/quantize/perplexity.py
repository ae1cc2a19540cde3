"""Perplexity, KL divergence and top-1 agreement, as llama.cpp's perplexity tool computes them.

    r = evaluate("model-q4_0.gguf", text, reference="model-f32.gguf")
    r.perplexity, r.mean_kl, r.top1        # top1: fraction of tokens whose argmax agrees

The text is tokenized once (the model's tokenizer, BOS first) and cut into
chunks of n_ctx tokens; each chunk starts from an empty cache with its first
token replaced by BOS, and only the second half of each chunk is scored (every
scored token has at least n_ctx/2 tokens of context), exactly like llama.cpp's
perplexity.  With a reference model, KL(reference || model) is averaged over the
same tokens.  A ReferenceLogprobs cache lets many models be compared with one
reference pass.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._core import Error


@dataclass
class PerplexityResult:
    perplexity: float
    n_tokens: int          # scored tokens
    n_chunks: int
    mean_kl: float | None = None
    kl_stderr: float | None = None
    top1: float | None = None      # same-top-token fraction vs the reference
    reference_perplexity: float | None = None

    def __str__(self) -> str:
        s = f"perplexity {self.perplexity:.4f} over {self.n_tokens} tokens ({self.n_chunks} chunks)"
        if self.mean_kl is not None:
            s += (f"; vs reference (ppl {self.reference_perplexity:.4f}): mean KL {self.mean_kl:.5f} "
                  f"± {self.kl_stderr:.5f}, same top token {100 * self.top1:.2f} %")
        return s


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _chunks(model, text: str, n_ctx: int, max_chunks):
    ids = model.tokenize(text, add_bos=True)
    n = len(ids) // n_ctx
    if max_chunks:
        n = min(n, int(max_chunks))
    if n < 1:
        raise Error(f"the text has {len(ids)} tokens; perplexity needs at least n_ctx={n_ctx}")
    bos = model.tokenizer.bos_id if model.tokenizer is not None else None
    for c in range(n):
        chunk = list(ids[c * n_ctx:(c + 1) * n_ctx])
        if bos is not None and bos >= 0:
            chunk[0] = bos
        yield chunk


def _chunk_logprobs(model, chunk):
    """log-probabilities of rows n_ctx/2 .. n_ctx-2 (each predicts the next token)."""
    n_ctx = len(chunk)
    first = n_ctx // 2
    logits = model.logits(chunk, last_n=n_ctx - first)[:-1]
    return _log_softmax(logits.astype(np.float32)), np.asarray(chunk[first + 1:])


class ReferenceLogprobs:
    """The reference model's log-probabilities on the scored tokens, computed once
    (kept as float32 in memory, or float16 in a file-backed array when path is given)."""

    def __init__(self, model_path, text: str, *, n_ctx: int = 512, max_chunks=None, path=None,
                 n_threads=None):
        from ..model import load
        with load(model_path, n_ctx=n_ctx, n_threads=n_threads) as ref:
            chunks = list(_chunks(ref, text, n_ctx, max_chunks))
            rows = n_ctx - n_ctx // 2 - 1
            shape = (len(chunks), rows, ref.n_vocab)
            if path is None:
                self.logprobs = np.empty(shape, np.float32)
            else:
                self.logprobs = np.lib.format.open_memmap(path, "w+", np.float16, shape)
            self.chunks = chunks
            for c, chunk in enumerate(chunks):
                lp, _ = _chunk_logprobs(ref, chunk)
                self.logprobs[c] = lp
        self.n_ctx = n_ctx
        self.model_path = str(model_path)


def evaluate(model_path, text: str, *, reference=None, n_ctx: int = 512, max_chunks=None,
             n_threads=None) -> PerplexityResult:
    """Perplexity of model_path on text; with reference (a model path or a
    ReferenceLogprobs), also mean KL(reference || model) and top-1 agreement."""
    from ..model import load
    if reference is not None and not isinstance(reference, ReferenceLogprobs):
        reference = ReferenceLogprobs(reference, text, n_ctx=n_ctx, max_chunks=max_chunks,
                                      n_threads=n_threads)
    nll, kls, agree, ref_nll, n = 0.0, [], 0, 0.0, 0
    with load(model_path, n_ctx=n_ctx, n_threads=n_threads) as model:
        chunks = reference.chunks if reference is not None else list(_chunks(model, text, n_ctx, max_chunks))
        if reference is not None and reference.n_ctx != n_ctx:
            raise ValueError("the reference was computed with another n_ctx")
        for c, chunk in enumerate(chunks):
            lp, targets = _chunk_logprobs(model, chunk)
            rows = np.arange(len(targets))
            nll -= float(lp[rows, targets].sum())
            n += len(targets)
            if reference is not None:
                ref = np.asarray(reference.logprobs[c], np.float32)
                if ref.shape[-1] != lp.shape[-1]:
                    raise Error(f"the reference has {ref.shape[-1]} tokens in its vocabulary, "
                                f"the model {lp.shape[-1]}")
                kls.append((np.exp(ref) * (ref - lp)).sum(axis=-1))
                agree += int((ref.argmax(-1) == lp.argmax(-1)).sum())
                ref_nll -= float(ref[rows, targets].sum())
    result = PerplexityResult(math.exp(nll / n), n, len(chunks))
    if reference is not None:
        kl = np.concatenate(kls).astype(np.float64)
        result.mean_kl = float(kl.mean())
        result.kl_stderr = float(kl.std(ddof=1) / math.sqrt(len(kl))) if len(kl) > 1 else 0.0
        result.top1 = agree / n
        result.reference_perplexity = math.exp(ref_nll / n)
    return result
