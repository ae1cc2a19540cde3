"""Tokenizer (csrc/tokenizer/ga_tok*.c, gemma_accel.tokenizer) against llama.cpp on the real vocabularies.

The vocabulary is read with the `gguf` package; the reference is llama.cpp
through llama-cpp-python (vocab_only), called through its C API so nothing
in the Python wrapper (fixed 32-byte piece buffers, leading-space stripping)
gets in the way.
"""
import ctypes
import json
import os
import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import gemma_accel
from gemma_accel import _core
from gemma_accel.tokenizer import Tokenizer

CORPUS = json.loads((Path(__file__).parent / "tokenizer_corpus.json").read_text())
SANITIZED = bool(os.environ.get("GA_SANITIZED"))

# Invalid or truncated UTF-8: llama.cpp cuts "characters" by the lead byte
# alone, never validates, and falls back to byte tokens.
INVALID_UTF8 = [
    b"\xff", b"\xfe\xff", b"\xc3", b"\xc3(", b"abc\xe2\x82", b"\xe2\x82abc", b"\x80", b"\x80\x80\x80",
    b"\xf0\x9f\x98", b"\xf0\x9f\x98 ok", b"\xf8\x88\x80\x80\x80", b"\xed\xa0\x80", b"\xc0\xaf",
    b"\xe0\x80\xaf", b"ok\xffok\xfe", b"\xe4\xbd", b"\xe4\xbd\xa0\xe5", b"<start_of_turn>\xff",
    b"\xe2\x96", b" \xe2\x96 \xe2\x96\x81", b"a\x00\xff\x00b",
]


def read_tokenizer_metadata(path) -> dict:
    """The tokenizer.* keys of a GGUF file as plain Python values."""
    gguf = pytest.importorskip("gguf")
    reader = gguf.GGUFReader(str(path))
    meta = {}
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.") or key == "tokenizer.chat_template":
            continue
        if key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges"):
            # bytes straight from the parts: faster than contents(), and exact
            meta[key] = [bytes(field.parts[i]).decode("utf-8", errors="surrogateescape")
                         for i in field.data]
        else:
            meta[key] = field.contents()
    return meta


class Ref:
    """llama.cpp's tokenizer through its C API."""

    def __init__(self, path):
        llama_cpp = pytest.importorskip("llama_cpp")
        self.lib = llama_cpp
        self.llama = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
        self.vocab = llama_cpp.llama_model_get_vocab(self.llama._model.model)

    def tokenize(self, text: bytes, add_bos: bool, special: bool) -> list:
        cap = len(text) + 16
        while True:
            buf = (self.lib.llama_token * cap)()
            n = self.lib.llama_tokenize(self.vocab, text, len(text), buf, cap, add_bos, special)
            if n >= 0:
                return list(buf[:n])
            cap = -n

    def detokenize(self, ids, special: bool) -> bytes:
        arr = (self.lib.llama_token * max(len(ids), 1))(*ids)
        cap = 8 * len(ids) + 16
        while True:
            buf = ctypes.create_string_buffer(cap)
            n = self.lib.llama_detokenize(self.vocab, arr, len(ids), buf, cap, False, special)
            if n >= 0:
                return buf.raw[:n]
            cap = -n

    def piece(self, token: int, special: bool) -> bytes:
        buf = ctypes.create_string_buffer(512)
        n = self.lib.llama_token_to_piece(self.vocab, token, buf, 512, 0, special)
        assert n >= 0
        return buf.raw[:n]

    def n_vocab(self) -> int:
        return self.lib.llama_vocab_n_tokens(self.vocab)


def reference(path):
    if SANITIZED:
        pytest.skip("llama.cpp reference not loaded under the sanitizers")
    return Ref(path)


# ---- fixtures ----

@pytest.fixture(scope="session")
def gemma_meta(gemma_path):
    return read_tokenizer_metadata(gemma_path)


@pytest.fixture(scope="session")
def gemma_tok(gemma_meta):
    return Tokenizer.from_gguf_metadata(gemma_meta)


@pytest.fixture(scope="session")
def gemma_ref(gemma_path):
    return reference(gemma_path)


@pytest.fixture(scope="session")
def smol_meta(smollm2_path):
    return read_tokenizer_metadata(smollm2_path)


@pytest.fixture(scope="session")
def smol_tok(smol_meta):
    return Tokenizer.from_gguf_metadata(smol_meta)


@pytest.fixture(scope="session")
def smol_ref(smollm2_path):
    return reference(smollm2_path)


def mismatches(tok, ref, texts, flags):
    bad = []
    for s in texts:
        b = s if isinstance(s, bytes) else s.encode()
        for add_bos, special in flags:
            ours, theirs = tok.encode(b, add_bos, special), ref.tokenize(b, add_bos, special)
            if ours != theirs:
                bad.append((s, add_bos, special, ours[:20], theirs[:20]))
    return bad


ALL_FLAGS = [(a, s) for a in (True, False) for s in (False, True)]


# ---- Gemma 3 (SPM) ----

def test_gemma_metadata_is_spm(gemma_meta, gemma_tok):
    assert gemma_meta["tokenizer.ggml.model"] == "llama"
    assert gemma_tok.n_vocab == len(gemma_meta["tokenizer.ggml.tokens"]) == 262144
    assert (gemma_tok.bos_id, gemma_tok.eos_id) == (2, 1)


def test_corpus_size():
    assert len(CORPUS) >= 300
    assert "" in CORPUS and " " in CORPUS and "\n" in CORPUS and "a" * 1000 in CORPUS


def test_gemma_corpus_matches_llama_cpp(gemma_tok, gemma_ref):
    bad = mismatches(gemma_tok, gemma_ref, CORPUS, ALL_FLAGS)
    assert not bad, f"{len(bad)} mismatches, first: {bad[:3]}"


def test_gemma_str_and_bytes_agree(gemma_tok):
    for s in CORPUS[:100]:
        assert gemma_tok.encode(s) == gemma_tok.encode(s.encode())


def test_gemma_round_trip(gemma_tok, gemma_ref):
    """decode(encode(s)) == s for every corpus string, except where llama.cpp
    itself cannot round-trip: a literal U+2581 (SPM's space marker) comes back
    as a space, and without special, text such as "<eos>" may merge into the
    control token, whose piece is then empty.  Those must equal llama.cpp's
    own round trip."""
    not_exact = set()
    for special in (False, True):
        for s in CORPUS:
            ids = gemma_tok.encode(s, add_bos=False, special=special)
            back = gemma_tok.decode_bytes(ids, special)
            if back != s.encode():
                not_exact.add(s)
                ref = gemma_ref.detokenize(gemma_ref.tokenize(s.encode(), False, special), special)
                assert back == ref, s
            assert gemma_tok.decode(ids, special) == back.decode("utf-8", errors="replace")
    unexplained = [s for s in not_exact if "\u2581" not in s and "<" not in s]
    assert not unexplained, unexplained


def test_gemma_decode_matches_llama_cpp(gemma_tok, gemma_ref):
    for s in CORPUS:
        for special in (False, True):
            ids = gemma_ref.tokenize(s.encode(), True, special)
            assert gemma_tok.decode_bytes(ids, special) == gemma_ref.detokenize(ids, special), s
            assert gemma_tok.decode_bytes(ids, not special) == gemma_ref.detokenize(ids, not special), s


def test_gemma_token_to_piece_matches_llama_cpp(gemma_tok, gemma_meta, gemma_ref):
    types = np.asarray(gemma_meta["tokenizer.ggml.token_type"])
    rng = random.Random(1234)
    ids = set(range(600))                                   # control, user-defined, bytes
    ids |= set(int(i) for i in np.nonzero(types != 1)[0])   # every non-normal token
    ids |= set(rng.sample(range(gemma_tok.n_vocab), 5000))
    ids |= {gemma_tok.n_vocab - 1}
    for i in sorted(ids):
        for special in (False, True):
            assert gemma_tok.token_to_piece(i, special) == gemma_ref.piece(i, special), (i, special)


def test_gemma_byte_tokens(gemma_tok):
    for b in range(256):
        tid = gemma_tok.piece_to_id(f"<0x{b:02X}>")
        assert tid >= 0
        assert gemma_tok.token_to_piece(tid) == bytes([b])
    assert gemma_tok.piece_to_id("<0x0A>") == 248


def test_gemma_special_tokens(gemma_tok):
    s = "<start_of_turn>user\nHi<end_of_turn>"
    ids = gemma_tok.encode(s, add_bos=True, special=True)
    assert ids[:2] == [2, 105] and ids[-1] == 106
    assert 105 not in gemma_tok.encode(s, add_bos=True, special=False)
    assert gemma_tok.decode(ids, special=True) == "<bos>" + s
    assert gemma_tok.decode(ids) == "user\nHi"
    assert gemma_tok.encode("", add_bos=True) == [2]
    assert gemma_tok.encode("", add_bos=False) == []


def test_gemma_invalid_utf8_matches_llama_cpp(gemma_tok, gemma_ref):
    bad = mismatches(gemma_tok, gemma_ref, INVALID_UTF8, ALL_FLAGS)
    assert not bad, bad
    for b in INVALID_UTF8:
        ids = gemma_tok.encode(b, add_bos=False)
        back = gemma_tok.decode_bytes(ids)
        assert back == gemma_ref.detokenize(ids, False)
        # bytes come back exactly unless a truncated lead byte swallowed part
        # of an escaped space (U+2581), as it does in llama.cpp too
        assert back == b or b" " in b, b
        assert gemma_tok.decode(ids) == back.decode("utf-8", errors="replace")


def test_gemma_eog_matches_llama_cpp(gemma_tok, gemma_ref):
    lib = gemma_ref.lib
    assert gemma_tok.n_vocab == gemma_ref.n_vocab()
    ref_eog = {i for i in range(gemma_tok.n_vocab) if lib.llama_vocab_is_eog(gemma_ref.vocab, i)}
    assert gemma_tok.eog_ids == ref_eog
    assert 106 in gemma_tok.eog_ids and 1 in gemma_tok.eog_ids
    assert gemma_tok.eot_id == lib.llama_vocab_eot(gemma_ref.vocab) == 106
    assert gemma_tok.bos_id == lib.llama_vocab_bos(gemma_ref.vocab)
    assert gemma_tok.eos_id == lib.llama_vocab_eos(gemma_ref.vocab)


def one_megabyte() -> str:
    parts, size, rng = [], 0, random.Random(7)
    while size < 1 << 20:
        s = rng.choice(CORPUS)
        parts.append(s)
        size += len(s.encode())
    return " ".join(parts)


def test_gemma_one_megabyte(gemma_tok, gemma_ref):
    text = one_megabyte()
    t0 = time.perf_counter()
    ids = gemma_tok.encode(text, add_bos=True, special=True)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0, f"1 MB took {elapsed:.2f} s"
    assert ids == gemma_ref.tokenize(text.encode(), True, True)
    assert gemma_tok.encode(text, add_bos=False) == gemma_ref.tokenize(text.encode(), False, False)


@pytest.mark.parametrize("text", ["a" * (1 << 20), " " * (1 << 20), "\n" * (1 << 20), "😀" * (1 << 18),
                                  "<start_of_turn>" * 70000])
def test_gemma_one_megabyte_degenerate_is_fast(gemma_tok, text):
    t0 = time.perf_counter()
    ids = gemma_tok.encode(text, special=True)
    assert time.perf_counter() - t0 < 5.0
    assert gemma_tok.decode(ids, special=True) == "<bos>" + text


def test_gemma_embedded_nul(gemma_tok):
    ids = gemma_tok.encode("a\x00b", add_bos=False)
    assert gemma_tok.piece_to_id("<0x00>") in ids
    assert gemma_tok.decode(ids) == "a\x00b"


def test_gemma_decode_rejects_bad_ids(gemma_tok):
    n = gemma_tok.n_vocab
    for bad in (n, n + 5, -1, 2**40):
        with pytest.raises(ValueError, match=str(bad)):
            gemma_tok.decode([2, 100, bad])
    with pytest.raises(ValueError, match=str(n)):
        gemma_tok.token_to_piece(n)
    with pytest.raises(ValueError):
        gemma_tok.decode_bytes(np.array([n], dtype=np.int64))
    assert gemma_tok.decode(np.array([9259, 1902], dtype=np.int32)) == "Hello world"
    assert gemma_tok.decode([]) == ""


def test_gemma_threads_agree(gemma_tok):
    texts = CORPUS * 3
    expected = [gemma_tok.encode(s) for s in texts]
    results = [None] * 4

    def work(k):
        results[k] = [gemma_tok.encode(s) for s in texts]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r == expected for r in results)


def test_gemma_vocab_build_time(gemma_meta):
    tokens = [t.encode("utf-8", errors="surrogateescape") for t in gemma_meta["tokenizer.ggml.tokens"]]
    scores = np.asarray(gemma_meta["tokenizer.ggml.scores"], np.float32)
    types = np.asarray(gemma_meta["tokenizer.ggml.token_type"], np.int32)
    t0 = time.perf_counter()
    tok = _core.Tokenizer(tokens, scores, types, 2, 1, 3, True, False)
    elapsed = time.perf_counter() - t0
    assert tok.n_vocab == 262144
    assert elapsed < (10.0 if SANITIZED else 1.0), f"vocab build took {elapsed:.3f} s"


# ---- construction errors ----

def test_unsupported_model_raises():
    with pytest.raises(gemma_accel.Error, match="'bert'"):
        Tokenizer.from_gguf_metadata({"tokenizer.ggml.model": "bert", "tokenizer.ggml.tokens": ["a"]})
    with pytest.raises(gemma_accel.Error, match="'t5'"):
        _core.Tokenizer(["a"], None, None, model="t5")


def test_bad_vocabularies_raise():
    with pytest.raises(gemma_accel.ModelFormatError, match="duplicate"):
        _core.Tokenizer(["a", "b", "a"], None, None)
    with pytest.raises(ValueError, match="scores"):
        _core.Tokenizer(["a", "b"], np.zeros(1, np.float32), None)
    with pytest.raises(ValueError, match="BOS"):
        _core.Tokenizer(["a", "b"], None, None, bos_id=7)
    with pytest.raises(TypeError):
        _core.Tokenizer(["a", 3], None, None)
    with pytest.raises(ValueError):
        _core.Tokenizer([], None, None)


def test_tiny_spm_vocabulary_defaults():
    """Missing keys take llama.cpp's SPM defaults: add_space_prefix and BOS on."""
    tokens = ["<unk>", "<s>", "</s>", "\u2581", "a", "b", "\u2581a", "ab", "\u2581ab"] + \
             [f"<0x{b:02X}>" for b in range(256)]
    types = [2, 3, 3, 1, 1, 1, 1, 1, 1] + [6] * 256
    scores = [0, 0, 0, -1, -2, -2, -3, -4, -5] + [0] * 256
    tok = Tokenizer.from_gguf_metadata({"tokenizer.ggml.tokens": tokens, "tokenizer.ggml.scores": scores,
                                        "tokenizer.ggml.token_type": types})
    assert tok.bos_id == 1 and tok.eos_id == 2
    assert tok.encode("ab") == [1, 8]
    assert tok.decode([8]) == "ab"  # the first piece loses its leading space again
    assert tok.decode([1, 8]) == " ab"  # ... but only the first (llama_detokenize, remove_special=False)
    assert tok.encode("a\u00e9", add_bos=False) == [6, 9 + 0xC3, 9 + 0xA9]
    assert tok.eog_ids == {2}


# ---- SmolLM2 (llama architecture, GPT-2 byte-level BPE, pre-tokenizer "smollm") ----

def test_smollm2_metadata_is_bpe(smol_meta, smol_tok):
    assert smol_meta["tokenizer.ggml.model"] == "gpt2"
    assert smol_meta["tokenizer.ggml.pre"] == "smollm"
    assert smol_tok.n_vocab == 49152
    assert smol_tok.encode("Hello", add_bos=True) == smol_tok.encode("Hello", add_bos=False)  # add_bos_token false


def test_smollm2_corpus_matches_llama_cpp(smol_tok, smol_ref):
    bad = mismatches(smol_tok, smol_ref, CORPUS, ALL_FLAGS)
    assert not bad, f"{len(bad)} mismatches, first: {bad[:3]}"


def test_smollm2_invalid_utf8_matches_llama_cpp(smol_tok, smol_ref):
    bad = mismatches(smol_tok, smol_ref, INVALID_UTF8, ALL_FLAGS)
    assert not bad, bad
    for b in INVALID_UTF8:  # llama.cpp's BPE turns each invalid byte into U+FFFD
        ids = smol_tok.encode(b, add_bos=False)
        assert smol_tok.decode_bytes(ids) == smol_ref.detokenize(ids, False)
        assert smol_tok.decode(ids) == smol_tok.decode_bytes(ids).decode("utf-8", errors="replace"), b


def test_smollm2_round_trip_and_decode(smol_tok, smol_ref):
    for s in CORPUS:
        for special in (False, True):
            ids = smol_tok.encode(s, add_bos=False, special=special)
            back = smol_tok.decode_bytes(ids, special)
            assert back == smol_ref.detokenize(ids, special), s
            if special or not any(t in s for t in ("<|", "<repo", "<file", "<fim", "<gh", "<issue", "<jupyter",
                                                    "<empty_output>", "<commit", "<reponame>", "<filename>")):
                assert back == s.encode(), (s, special)


def test_smollm2_token_to_piece_matches_llama_cpp(smol_tok, smol_ref):
    for i in range(smol_tok.n_vocab):
        for special in (False, True):
            assert smol_tok.token_to_piece(i, special) == smol_ref.piece(i, special), (i, special)


def test_smollm2_eog_matches_llama_cpp(smol_tok, smol_ref):
    lib = smol_ref.lib
    ref_eog = {i for i in range(smol_tok.n_vocab) if lib.llama_vocab_is_eog(smol_ref.vocab, i)}
    assert smol_tok.eog_ids == ref_eog
    assert smol_tok.bos_id == lib.llama_vocab_bos(smol_ref.vocab) == 1
    assert smol_tok.eos_id == lib.llama_vocab_eos(smol_ref.vocab) == 2


def test_smollm2_one_megabyte(smol_tok, smol_ref):
    text = one_megabyte()
    t0 = time.perf_counter()
    ids = smol_tok.encode(text, special=True)
    assert time.perf_counter() - t0 < 5.0
    assert ids == smol_ref.tokenize(text.encode(), True, True)


def test_smollm2_chat_markers(smol_tok):
    ids = smol_tok.encode("<|im_start|>user\nHi<|im_end|>", special=True)
    assert ids[0] == 1 and ids[-1] == 2
    assert smol_tok.is_eog(2)


def test_bpe_other_pre_tokenizers_raise():
    with pytest.raises(gemma_accel.Error, match="'gpt-2'"):
        Tokenizer.from_gguf_metadata({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2",
                                      "tokenizer.ggml.tokens": ["a"], "tokenizer.ggml.merges": []})


def test_smollm2_round_trip_without_reference(smol_tok):
    """Runs under the sanitizers too (no llama.cpp needed)."""
    for s in CORPUS:
        ids = smol_tok.encode(s, add_bos=False, special=True)
        assert smol_tok.decode_bytes(ids, special=True) == s.encode(), s
    for b in INVALID_UTF8:
        smol_tok.decode(smol_tok.encode(b, special=True), special=True)
    text = one_megabyte()
    assert smol_tok.decode(smol_tok.encode(text, special=True), special=True) == text
