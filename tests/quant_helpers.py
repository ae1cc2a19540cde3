"""Synthetic Hugging Face checkpoints for the quantizer tests, written tensor by tensor.

write_checkpoint streams each tensor's bytes to disk in slices, so a multi-GB
checkpoint never sits in memory; values come from a small random block repeated.
"""
import json
import os
import struct

import numpy as np

SLICE = 8 << 20  # bytes written per slice


def llama_config(hidden=64, layers=2, vocab=256, ff=128, heads=4, kv_heads=2, **extra):
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
           "intermediate_size": ff, "num_hidden_layers": layers, "num_attention_heads": heads,
           "num_key_value_heads": kv_heads, "vocab_size": vocab, "max_position_embeddings": 2048,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": False}
    cfg.update(extra)
    return cfg


def llama_shapes(cfg):
    d, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = d // cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"] * hd
    shapes = {"model.embed_tokens.weight": (v, d), "model.norm.weight": (d,), "lm_head.weight": (v, d)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes.update({p + "input_layernorm.weight": (d,), p + "post_attention_layernorm.weight": (d,),
                       p + "self_attn.q_proj.weight": (d, d), p + "self_attn.k_proj.weight": (kv, d),
                       p + "self_attn.v_proj.weight": (kv, d), p + "self_attn.o_proj.weight": (d, d),
                       p + "mlp.gate_proj.weight": (f, d), p + "mlp.up_proj.weight": (f, d),
                       p + "mlp.down_proj.weight": (d, f)})
    return shapes


_ITEM = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4}


def _pattern(dtype, nbytes, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(nbytes // 2 + 1) * 0.02).astype(np.float32)
    if dtype == "F32":
        return x.tobytes()[:nbytes]
    if dtype == "F16":
        return x.astype(np.float16).tobytes()[:nbytes]
    if dtype == "BF16":
        return (x.view(np.uint32) >> 16).astype(np.uint16).tobytes()[:nbytes]
    return np.arange(nbytes // 4 + 1, dtype=np.int32).tobytes()[:nbytes]


def write_safetensors(path, shapes: dict, dtype="BF16", dtypes=None):
    """Streams a safetensors file; dtypes overrides the dtype per tensor name."""
    header, offset = {}, 0
    for name, shape in shapes.items():
        dt = (dtypes or {}).get(name, dtype)
        n = int(np.prod(shape)) * _ITEM[dt]
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    block = {dt: _pattern(dt, SLICE, i) for i, dt in enumerate(("F32", "F16", "BF16", "I32"))}
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for name, h in header.items():
            n = h["data_offsets"][1] - h["data_offsets"][0]
            while n > 0:
                k = min(n, SLICE)
                f.write(block[h["dtype"]][:k])
                n -= k
    return path


def write_checkpoint(folder, cfg, dtype="BF16", shards=1, dtypes=None):
    """config.json + model.safetensors, or `shards` shard files with an index."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    shapes = llama_shapes(cfg)
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), shapes, dtype, dtypes)
        return folder
    names = list(shapes)
    per = -(-len(names) // shards)
    weight_map = {}
    for s in range(shards):
        shard = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: shapes[n] for n in names[s * per:(s + 1) * per]}
        write_safetensors(os.path.join(folder, shard), part, dtype, dtypes)
        weight_map.update({n: shard for n in part})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    return folder


def write_byte_tokenizer(folder):
    """A byte-level BPE tokenizer.json (256 byte tokens, no merges) + tokenizer_config.json, so a
    synthetic checkpoint can be calibrated: every token id is below 256."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    byte_to_char = {}
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_to_char = {b: chr(c) for b, c in zip(bs, cs)}
    assert set(byte_to_char.values()) == set(alphabet)
    vocab = {byte_to_char[b]: b for b in range(256)}
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.save(os.path.join(folder, "tokenizer.json"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": False}, f)
    return folder
