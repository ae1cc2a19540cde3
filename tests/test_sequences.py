"""Several sequences in one KV cache (csrc/model/ga_kv.c): batches whose tokens carry
their own position and sequence id, forks that share pages, the prefix kept in C, and
the checks on hostile batches.  On the real default model (Gemma 3: sliding-window
layers) and SmolLM2 (llama: none)."""
import numpy as np
import pytest

import gemma_accel

TEXT = ("The history of astronomy spans thousands of years, from the first star charts of "
        "ancient Babylon to the space telescopes of today. ")
# One sequence's chunks run prefill attention on sgemm blocks, a chunk of two sequences
# per query: the same sums in another order, which moves these repetitive prompts' logits
# by up to 0.1 (measured; as much as GA_ATTN=one does to a sequence alone).  So the
# reference runs each sequence alone with GA_ATTN=one, in the same chunks as the batch
# gives it: then only the matmul's chunk size differs (measured max |diff| 2e-3, and 0
# for the first 800 positions).
BATCH_MAX_DIFF = 1e-2
# one token alone takes the integer decode path, two (one per sequence) the float gemm:
# activation rounding (as tests/test_prefill_decode.py, measured ~0.01-0.03)
DECODE_MAX_DIFF = 0.1


def _interleave(a, b, run_a=7, run_b=5):
    """a and b in alternating runs: (tokens, seq ids, positions)."""
    toks, seqs, poss = [], [], []
    ia = ib = 0
    while ia < len(a) or ib < len(b):
        for _ in range(run_a):
            if ia < len(a):
                toks.append(a[ia]); seqs.append(0); poss.append(ia); ia += 1
        for _ in range(run_b):
            if ib < len(b):
                toks.append(b[ib]); seqs.append(1); poss.append(ib); ib += 1
    return toks, seqs, poss


@pytest.mark.parametrize("which", ["gemma", "smollm2"])
def test_two_sequences_in_one_batch_match_each_alone(which, gemma_path, smollm2_path, monkeypatch):
    """Two sequences of 900 and 850 tokens interleaved in one batch (every chunk of 256 holds
    both; the sliding layers give pages back), then one decode step of each in one batch."""
    monkeypatch.setenv("GA_ATTN", "one")
    path = gemma_path if which == "gemma" else smollm2_path
    with gemma_accel.load(path, n_ctx=2048) as m:
        ids = m.tokenize(TEXT * 60)
        a, b = ids[:900], ids[40:890]
        toks, seqs, poss = _interleave(a, b)
        seqs = np.array(seqs)
        core = gemma_accel._core.Model(m.hparams, m._table, 2048, 256, m.n_threads, n_seq=2)
        out = core.eval_batch(toks, seqs, poss, logits=[True] * len(toks))
        # then one decode step of each sequence, both in one batch
        nxt = [int(out[seqs == 0][-1].argmax()), int(out[seqs == 1][-1].argmax())]
        step = core.eval_batch(nxt, [0, 1], [len(a), len(b)], logits=[True, True])
        for s, ids_ in ((0, a), (1, b)):
            alone = gemma_accel._core.Model(m.hparams, m._table, 2048, 256, m.n_threads)
            ref, done = [], 0
            for c in range(0, len(toks), 256):  # the batch's chunks, this sequence's share of each
                n = int((seqs[c:c + 256] == s).sum())
                if n:
                    ref.append(alone.eval(ids_[done:done + n], logits="all"))
                done += n
            ref = np.concatenate(ref)
            got = out[seqs == s]
            diff = np.abs(got - ref).max()
            print(f"\n{which} sequence {s}: max |batched - alone| = {diff:.2e}")
            assert diff < BATCH_MAX_DIFF and (got.argmax(-1) == ref.argmax(-1)).all()
            assert core.seq_n_past(s) == len(ids_) + 1
            alone_step = alone.eval([nxt[s]], logits="last")
            assert np.abs(step[s] - alone_step).max() < DECODE_MAX_DIFF
            assert step[s].argmax() == alone_step.argmax()
            alone.close()
        core.close()  # before the file it maps is closed


def test_fork_shares_pages_and_copies_the_one_both_write(gemma_path):
    """Sequence 1 forks sequence 0 after 300 positions (two full pages and part of a third),
    then both write positions 300.. into their copies of that third page: each continues
    exactly as a fresh evaluation of its own tokens (bit for bit: the same chunks run)."""
    with gemma_accel.load(gemma_path, n_ctx=1024) as m:
        ids = m.tokenize(TEXT * 30)
        p, x, y = ids[:300], ids[300:320], ids[500:520]
        core = gemma_accel._core.Model(m.hparams, m._table, 1024, 256, m.n_threads, n_seq=2)
        reserved = core.reserved_bytes
        core.eval_batch(p, [0] * 300, list(range(300)))
        core.fork(0, 1)
        assert core.seq_n_past(1) == 300 and core.reserved_bytes == reserved
        rx = core.eval_batch(x, [0] * 20, list(range(300, 320)), logits=[True] * 20)
        ry = core.eval_batch(y, [1] * 20, list(range(300, 320)), logits=[True] * 20)
        rx2 = core.eval_batch([x[0]], [0], [320], logits=[True])  # after sequence 1 wrote
        fresh = gemma_accel._core.Model(m.hparams, m._table, 1024, 256, m.n_threads)
        for cont, got in ((x, rx), (y, ry)):
            fresh.truncate(0)
            fresh.eval(p, logits="none")
            assert np.array_equal(fresh.eval(cont, logits="all"), got)
        fresh.truncate(0)
        fresh.eval(p, logits="none")
        fresh.eval(x, logits="none")
        assert np.array_equal(fresh.eval([x[0]], logits="last"), rx2[0])
        # a fork onto itself changes nothing; onto a used sequence replaces it
        core.fork(1, 1)
        assert core.seq_n_past(1) == 320
        core.fork(0, 1)
        assert core.seq_n_past(1) == 321
        core.close()
        fresh.close()


def test_prefix_is_kept_in_c(gemma_path):
    with gemma_accel.load(gemma_path, n_ctx=2048) as m:
        core = m._core
        ids = m.tokenize(TEXT * 40)[:1000]
        core.eval(ids[:300], logits="none")
        other = ids[:100] + [ids[5]] * 50
        assert core.keep_prefix(other, len(other) - 1) == 100 and core.n_past == 100
        assert core.keep_prefix(ids[:100], 99) == 99  # capped by max_keep
        core.truncate(0)
        core.eval(ids, logits="none")  # 1000 positions: the sliding layers gave pages back
        assert core.keep_prefix(ids[:10] + [1, 2, 3], 12) == 0 and core.n_past == 0
        # generate() reuses the common prefix through it
        m.generate(ids[:200], max_tokens=1, temperature=0)
        c = m.generate(ids[:150] + ids[300:310], max_tokens=1, temperature=0)
        assert c.timings["cached_tokens"] == 150


def test_hostile_batches_are_refused_and_change_nothing(smollm2_path):
    with gemma_accel.load(smollm2_path, n_ctx=256) as m:
        core = gemma_accel._core.Model(m.hparams, m._table, 256, 64, m.n_threads, n_seq=2)
        core.eval_batch([1, 2, 3], [0, 0, 0], [0, 1, 2])
        bad = [
            (([4], [0], [5]), "position 5, but sequence 0 continues at 3"),
            (([4, 5], [0, 0], [3, 3]), "position 3, but sequence 0 continues at 4"),
            (([4], [2], [0]), "sequence 2 is outside 0..1"),
            (([4], [-1], [0]), "sequence -1 is outside 0..1"),
            (([m.n_vocab], [1], [0]), "outside the vocabulary"),
            (([4, 5], [1], [0, 1]), "seq needs one entry per token"),
            (([4], [1], [2**40]), "pos 1099511627776 is out of range"),
            (([], [], []), "at least one token"),
        ]
        for args, match in bad:
            with pytest.raises(ValueError, match=match):
                core.eval_batch(*args)
        with pytest.raises(ValueError, match="one flag per token"):
            core.eval_batch([4], [1], [0], logits=[True, False])
        with pytest.raises(ValueError, match="context overflow"):
            core.eval_batch(list(range(300)), [1] * 300, list(range(300)))
        assert core.seq_n_past(0) == 3 and core.seq_n_past(1) == 0
        with pytest.raises(ValueError, match="outside 0..1"):
            core.fork(0, 2)
        with pytest.raises(ValueError, match="outside 0..1"):
            core.truncate(0, seq=7)
        with pytest.raises(ValueError, match="outside 0..1"):
            core.seq_n_past(-1)
        # the batch still runs after the refusals
        out = core.eval_batch([4, 9], [0, 1], [3, 0], logits=[False, True])
        assert out.shape == (1, m.n_vocab) and core.seq_n_past(0) == 4
        core.close()


def test_memory_budget_is_enforced(smollm2_path):
    with gemma_accel.load(smollm2_path, n_ctx=512) as m:
        need = m._core.reserved_bytes
    with pytest.raises(MemoryError, match=f"budget of {need // 2}"):
        gemma_accel.load(smollm2_path, n_ctx=512, budget_bytes=need // 2)
    with pytest.raises(ValueError, match="budget_bytes"):
        gemma_accel.load(smollm2_path, n_ctx=512, budget_bytes=-1)
    with gemma_accel.load(smollm2_path, n_ctx=512, budget_bytes=need) as m:
        assert m._core.reserved_bytes <= need
        assert len(m.generate("Once upon a time", max_tokens=4, temperature=0).tokens) == 4
