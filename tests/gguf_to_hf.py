"""Write a Hugging Face folder (config.json + model.safetensors, float32) holding
the weights of a Gemma 3 or llama GGUF, dequantized by the `gguf` package.

The reference side of the fidelity tests: transformers runs exactly the
weights our engine reads, decoded by an implementation that is not ours.
Gemma GGUF norms store 1 + w (llama.cpp's converter adds 1); Hugging Face
stores w.  llama.cpp's converter permutes llama's q/k rows for adjacent-pair
RoPE; Hugging Face keeps the rotate-half order, so they are permuted back.

With tokenizer=True the folder also gets tokenizer.json / tokenizer_config.json
(and chat_template.jinja when the GGUF has a template) from transformers' own
GGUF tokenizer conversion, an implementation that is not ours.

    python tests/gguf_to_hf.py MODEL.gguf OUT_DIR [--tokenizer]
"""
import json
import sys
from pathlib import Path

import numpy as np

GGUF_TO_HF = {
    "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm", "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm", "post_ffw_norm": "post_feedforward_layernorm",
    "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}


def hf_name(gguf_name: str, arch: str = "gemma3") -> str:
    base = gguf_name[: -len(".weight")]
    if base == "token_embd":
        return "model.embed_tokens.weight"
    if base == "output_norm":
        return "model.norm.weight"
    if base == "output":
        return "lm_head.weight"
    _, layer, kind = base.split(".", 2)
    if arch == "llama" and kind == "ffn_norm":
        return f"model.layers.{layer}.post_attention_layernorm.weight"
    return f"model.layers.{layer}.{GGUF_TO_HF[kind]}.weight"


def unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's q/k row permutation (rotate-half order -> adjacent pairs)."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tokenizer(gguf_path, out_dir) -> Path:
    """tokenizer.json + tokenizer_config.json written by transformers from the GGUF's tokenizer."""
    from transformers import AutoTokenizer
    gguf_path = Path(gguf_path)
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    tok.save_pretrained(str(out_dir))
    return Path(out_dir)


def convert(gguf_path, out_dir, tokenizer: bool = False) -> Path:
    import gguf
    from safetensors.numpy import save_file

    reader = gguf.GGUFReader(str(gguf_path))

    def meta(key, default=None):
        field = reader.fields.get(key)
        return default if field is None else field.contents()

    arch = meta("general.architecture")
    assert arch in ("gemma3", "llama"), "only Gemma 3 and llama files are converted"
    n_head, n_head_kv = int(meta(f"{arch}.attention.head_count")), int(meta(f"{arch}.attention.head_count_kv"))
    tensors = {}
    for t in reader.tensors:
        values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        values = values.reshape([int(d) for d in reversed(t.shape)])
        if arch == "gemma3" and t.name.endswith("norm.weight"):
            values = values - np.float32(1.0)
        if arch == "llama" and t.name.endswith("attn_q.weight"):
            values = unpermute(values, n_head)
        if arch == "llama" and t.name.endswith("attn_k.weight"):
            values = unpermute(values, n_head_kv)
        tensors[hf_name(t.name, arch)] = np.ascontiguousarray(values)
    n_layer = int(meta(f"{arch}.block_count"))
    n_embd = int(meta(f"{arch}.embedding_length"))
    head_dim = int(meta(f"{arch}.attention.key_length", n_embd // n_head))
    config = {
        "vocab_size": int(tensors["model.embed_tokens.weight"].shape[0]),
        "hidden_size": n_embd,
        "intermediate_size": int(meta(f"{arch}.feed_forward_length")),
        "num_hidden_layers": n_layer, "num_attention_heads": n_head, "num_key_value_heads": n_head_kv,
        "head_dim": head_dim,
        "max_position_embeddings": int(meta(f"{arch}.context_length")),
        "rms_norm_eps": float(meta(f"{arch}.attention.layer_norm_rms_epsilon")),
        "tie_word_embeddings": "lm_head.weight" not in tensors, "torch_dtype": "float32",
    }
    if arch == "gemma3":
        config.update({
            "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "query_pre_attn_scalar": head_dim,
            "sliding_window": int(meta("gemma3.attention.sliding_window")),
            "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(n_layer)],
            "rope_parameters": {
                "full_attention": {"rope_type": "default", "rope_theta": float(meta("gemma3.rope.freq_base"))},
                "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
            },
            "hidden_activation": "gelu_pytorch_tanh", "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
        })
    else:
        config.update({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
                       "rope_theta": float(meta("llama.rope.freq_base", 10000.0))})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(config, indent=2))
    if tokenizer:
        write_tokenizer(gguf_path, out)
    return out


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2], tokenizer="--tokenizer" in sys.argv[3:])
