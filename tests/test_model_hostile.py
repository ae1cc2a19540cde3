"""A GGUF can be well-formed and still describe an impossible model: load() must refuse it
with ModelFormatError (or gemma_accel.Error for the unsupported), never crash or allocate
absurdly.  Each case edits one thing in a tiny, valid Gemma 3 file written here."""
import numpy as np
import pytest

import gemma_accel

D, L, H, HKV, HD, F = 64, 2, 2, 1, 32, 128
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]
WORDS = ["\u2581", "\u2581the", "\u2581cat", "\u2581sat", "\u2581on", "\u2581mat", "\u2581a", "\u2581dog"]
VOCAB = SPECIALS + [f"<0x{b:02X}>" for b in range(256)] + WORDS


def metadata(**overrides):
    md = {
        "general.architecture": "gemma3", "gemma3.context_length": 256, "gemma3.embedding_length": D,
        "gemma3.block_count": L, "gemma3.feed_forward_length": F, "gemma3.attention.head_count": H,
        "gemma3.attention.head_count_kv": HKV, "gemma3.attention.key_length": HD,
        "gemma3.attention.value_length": HD, "gemma3.attention.layer_norm_rms_epsilon": 1e-6,
        "gemma3.rope.freq_base": 1e6, "gemma3.attention.sliding_window": 16,
        "tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": VOCAB,
        "tokenizer.ggml.scores": np.arange(len(VOCAB), dtype=np.float32),
        "tokenizer.ggml.token_type": np.array([3] * 4 + [6] * 256 + [1] * len(WORDS), dtype=np.int32),
        "tokenizer.ggml.bos_token_id": 2, "tokenizer.ggml.eos_token_id": 1,
        "tokenizer.ggml.unknown_token_id": 3, "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_space_prefix": False,
    }
    md.update(overrides)
    return {k: v for k, v in md.items() if v is not None}


def tensors(shapes=None):
    shapes = dict(shapes or {})
    out = {"token_embd.weight": (len(VOCAB), D), "output_norm.weight": (D,)}
    for i in range(L):
        p = f"blk.{i}."
        out.update({p + "attn_norm.weight": (D,), p + "attn_q.weight": (H * HD, D),
                    p + "attn_k.weight": (HKV * HD, D), p + "attn_v.weight": (HKV * HD, D),
                    p + "attn_output.weight": (D, H * HD), p + "attn_q_norm.weight": (HD,),
                    p + "attn_k_norm.weight": (HD,), p + "post_attention_norm.weight": (D,),
                    p + "ffn_norm.weight": (D,), p + "ffn_gate.weight": (F, D), p + "ffn_up.weight": (F, D),
                    p + "ffn_down.weight": (D, F), p + "post_ffw_norm.weight": (D,)})
    out.update(shapes)
    return {k: v for k, v in out.items() if v is not None}


def write(path, md, ts):
    rng = np.random.default_rng(0)
    with gemma_accel.GGUFWriter(path) as w:
        for k, v in md.items():
            w.add_metadata(k, v)
        for name, shape in ts.items():
            w.add_tensor_info(name, shape, "F32")
        w.write_header()
        for name, shape in ts.items():
            a = rng.normal(0, 0.1, size=shape).astype(np.float32)
            if name.endswith("norm.weight"):
                a += 1.0
            w.write_tensor_data(name, a)
    return path


def test_the_tiny_file_itself_loads_and_generates(tmp_path):
    with gemma_accel.load(write(tmp_path / "ok.gguf", metadata(), tensors())) as m:
        ids = m.tokenize("the cat sat")
        assert ids[0] == 2 and m.detokenize(ids[1:]) == "the cat sat"
        c = m.generate("the cat sat", max_tokens=4, temperature=0)
        assert c.timings["prompt_tokens"] == len(ids) and c.tokens
        # greedy generation picks, at each step, the argmax of the full forward pass
        seq = list(ids)
        for t in c.tokens:
            assert t == int(np.argmax(m.logits(seq)[-1])), (seq, t)
            seq.append(t)
        if c.finish_reason == "length":
            assert len(c.tokens) == 4
        else:  # it stopped on an end-of-generation token, which it does not return
            assert c.finish_reason == "stop" and m.tokenizer.is_eog(int(np.argmax(m.logits(seq)[-1])))


@pytest.mark.parametrize("md, ts, match", [
    (metadata(**{"gemma3.block_count": 10**9}), tensors(), "n_layer"),
    (metadata(**{"gemma3.attention.head_count": 0}), tensors(), "n_head"),
    (metadata(**{"gemma3.attention.head_count_kv": 3}), tensors(), "multiple"),
    (metadata(**{"gemma3.embedding_length": None}), tensors(), "embedding_length"),
    (metadata(**{"gemma3.attention.layer_norm_rms_epsilon": -1.0}), tensors(), "epsilon"),
    (metadata(**{"gemma3.context_length": 0}), tensors(), "context length"),
    (metadata(**{"gemma3.feed_forward_length": 2 * F}), tensors(), "ffn_gate"),
    (metadata(), tensors({"blk.1.ffn_down.weight": None}), "blk.1.ffn_down"),
    (metadata(), tensors({"blk.0.attn_q.weight": (H * HD + 32, D)}), "attn_q"),
    (metadata(), tensors({"blk.0.attn_norm.weight": (D + 1,)}), "attn_norm"),
    (metadata(), tensors({"token_embd.weight": None}), "token_embd"),
])
def test_impossible_models_are_refused(tmp_path, md, ts, match):
    path = write(tmp_path / "bad.gguf", md, ts)
    with pytest.raises(gemma_accel.ModelFormatError, match=match):
        gemma_accel.load(path)


def test_unknown_architecture_and_tokenizer(tmp_path):
    with pytest.raises(gemma_accel.Error, match="unknown architecture 'rwkv'"):
        gemma_accel.load(write(tmp_path / "a.gguf", metadata(**{"general.architecture": "rwkv"}), tensors()))
    with pytest.raises(gemma_accel.Error, match="bert"):
        gemma_accel.load(write(tmp_path / "t.gguf", metadata(**{"tokenizer.ggml.model": "bert"}), tensors()))
