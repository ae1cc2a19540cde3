"""Model hyper-parameters, read from a GGUF's metadata or a Hugging Face config.json.

Everything comes from the file; defaults apply only where the format itself
defines one (llama.cpp's for GGUF keys, transformers' for config.json keys).
The result is a plain dict with the fields of the C struct ga_hparams.
"""
import math

from ._core import Error, ModelFormatError

ARCH_IDS = {"llama": 0, "gemma": 1, "gemma2": 2, "gemma3": 3}
HF_MODEL_TYPES = {"llama": "llama", "gemma": "gemma", "gemma2": "gemma2", "gemma3_text": "gemma3",
                  "gemma3": "gemma3"}


def _check_arch(arch: str, where: str) -> str:
    if arch not in ARCH_IDS:
        raise Error(f"{where}: unknown architecture {arch!r}; supported: {', '.join(ARCH_IDS)}")
    return arch


def _attn_scale(arch, n_layer, n_embd, n_head, head_dim, query_pre_attn_scalar=None):
    if query_pre_attn_scalar:
        return query_pre_attn_scalar ** -0.5
    # llama.cpp's rule for GGUF (no scalar is stored): Gemma 2 27B (46 layers) and
    # Gemma 3 27B (62 layers) scale by n_embd / n_head, every other model by head_dim.
    if (arch, n_layer) in (("gemma2", 46), ("gemma3", 62)):
        return (n_embd / n_head) ** -0.5
    return head_dim ** -0.5


def _layer_swa(arch, n_layer, pattern=None, layer_types=None):
    if layer_types is not None:
        if len(layer_types) != n_layer:
            raise ModelFormatError(f"layer_types has {len(layer_types)} entries for {n_layer} layers")
        return [t == "sliding_attention" for t in layer_types]
    if pattern is not None and not isinstance(pattern, int):
        pattern = list(pattern)
        if len(pattern) != n_layer:
            raise ModelFormatError(f"sliding_window_pattern has {len(pattern)} entries for {n_layer} layers")
        return [bool(p) for p in pattern]
    if arch == "gemma3":
        period = pattern or 6
        return [(layer + 1) % period != 0 for layer in range(n_layer)]
    if arch == "gemma2":
        return [layer % 2 == 0 for layer in range(n_layer)]
    return [False] * n_layer


# Far above any real model; they stop a hostile file from making us build
# billion-entry tables before the C core gets to refuse it.
LIMITS = {"n_layer": 512, "n_embd": 1 << 20, "n_head": 4096, "n_head_kv": 4096, "head_dim": 4096,
          "n_ff": 1 << 22, "n_vocab": 1 << 24}


def _common(arch, **kw):
    gemma = arch.startswith("gemma")
    hp = {
        "arch": ARCH_IDS[arch], "arch_name": arch,
        "rope_neox": 1, "embed_scale": int(gemma), "act_gelu": int(gemma),
        "post_norms": int(arch in ("gemma2", "gemma3")), "qk_norm": int(arch == "gemma3"),
        "attn_softcap": 0.0, "final_softcap": 0.0, "sliding_window": 0,
        "rope_freq_scale": 1.0, "rope_base_swa": 10000.0, "rope_freq_scale_swa": 1.0,
    }
    hp.update(kw)
    for key, limit in LIMITS.items():
        value = hp[key]
        if not isinstance(value, int) or not 1 <= value <= limit:
            raise ModelFormatError(f"invalid {key}: {value!r} (expected 1..{limit})")
    if not 1 <= hp["n_ctx_train"] <= 1 << 24:
        raise ModelFormatError(f"invalid context length {hp['n_ctx_train']!r}")
    if not (hp["norm_eps"] > 0 and math.isfinite(hp["norm_eps"])):
        raise ModelFormatError(f"invalid norm epsilon {hp['norm_eps']!r}")
    for key in ("rope_base", "rope_base_swa"):
        if not (hp[key] > 0 and math.isfinite(hp[key])):
            raise ModelFormatError(f"invalid RoPE base {hp[key]!r}")
    if hp["n_head"] % hp["n_head_kv"]:
        raise ModelFormatError(f"n_head {hp['n_head']} is not a multiple of n_head_kv {hp['n_head_kv']}")
    return hp


def from_gguf(metadata: dict, n_vocab: int) -> dict:
    """Hyper-parameters from GGUF metadata; n_vocab is the embedding's row count."""
    arch = _check_arch(str(metadata.get("general.architecture")), "GGUF")

    def get(key, default=None, required=False):
        full = f"{arch}.{key}"
        if full in metadata:
            return metadata[full]
        if required:
            raise ModelFormatError(f"GGUF metadata lacks {full}")
        return default

    n_embd = int(get("embedding_length", required=True))
    n_head = int(get("attention.head_count", required=True))
    if n_head < 1:
        raise ModelFormatError(f"invalid n_head: {n_head}")
    n_layer = int(get("block_count", required=True))
    head_dim = int(get("attention.key_length", n_embd // n_head))
    scaling = get("rope.scaling.type")
    freq_scale = 1.0
    if scaling == "linear":
        freq_scale = 1.0 / float(get("rope.scaling.factor", 1.0))
    elif scaling not in (None, "none"):
        raise Error(f"unsupported RoPE scaling {scaling!r}")
    kw = dict(
        n_layer=n_layer, n_embd=n_embd, n_head=n_head,
        n_head_kv=int(get("attention.head_count_kv", n_head)), head_dim=head_dim,
        n_ff=int(get("feed_forward_length", required=True)), n_vocab=int(n_vocab),
        norm_eps=float(get("attention.layer_norm_rms_epsilon", 1e-5 if arch == "llama" else 1e-6)),
        rope_base=float(get("rope.freq_base", 10000.0)), rope_freq_scale=freq_scale,
        n_ctx_train=int(get("context_length", 2048)),
        attn_scale=_attn_scale(arch, n_layer, n_embd, n_head, head_dim),
    )
    if arch == "llama":
        kw["rope_neox"] = 0  # llama.cpp's converter permuted q/k for adjacent-pair RoPE
    if arch in ("gemma2", "gemma3"):
        kw["sliding_window"] = int(get("attention.sliding_window", 4096))
        kw["rope_base_swa"] = float(get("rope.local.freq_base", 10000.0))
    if arch == "gemma2":
        kw["attn_softcap"] = float(get("attn_logit_softcapping", 50.0) or 0.0)
        kw["final_softcap"] = float(get("final_logit_softcapping", 30.0) or 0.0)
        kw["rope_base_swa"] = kw["rope_base"]
    if arch == "gemma3":
        kw["final_softcap"] = float(get("final_logit_softcapping", 0.0) or 0.0)
    hp = _common(arch, **kw)
    hp["layer_swa"] = _layer_swa(arch, n_layer, get("attention.sliding_window_pattern"))
    return hp


def _rope_from_hf(cfg, kind):
    """(theta, freq_scale) for 'full_attention' or 'sliding_attention' from either
    transformers' old keys (rope_theta, rope_local_base_freq, rope_scaling) or the
    newer rope_parameters."""
    params = cfg.get("rope_parameters")
    if isinstance(params, dict) and kind in params:
        params = params[kind]
    if isinstance(params, dict) and "rope_theta" in params:
        scaling = params
        theta = float(params["rope_theta"])
    else:
        scaling = cfg.get("rope_scaling") if kind == "full_attention" else None
        if kind == "sliding_attention" and "rope_local_base_freq" in cfg:
            theta = float(cfg["rope_local_base_freq"])
        else:
            theta = float(cfg.get("rope_theta", 10000.0))
    scale = 1.0
    if scaling:
        rope_type = scaling.get("rope_type", scaling.get("type", "default"))
        if rope_type == "linear":
            scale = 1.0 / float(scaling["factor"])
        elif rope_type != "default":
            raise Error(f"unsupported RoPE scaling {rope_type!r}")
    return theta, scale


def from_hf_config(cfg: dict) -> dict:
    """Hyper-parameters from a Hugging Face config.json (text decoder part)."""
    if "text_config" in cfg:  # multimodal Gemma 3: the decoder's config is nested
        cfg = {**cfg["text_config"], "model_type": "gemma3"}
    model_type = cfg.get("model_type")
    if model_type not in HF_MODEL_TYPES:
        raise Error(f"config.json: unknown model_type {model_type!r}; supported: {', '.join(HF_MODEL_TYPES)}")
    arch = HF_MODEL_TYPES[model_type]
    try:
        n_embd, n_head, n_layer = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    except KeyError as exc:
        raise ModelFormatError(f"config.json lacks {exc.args[0]}") from None
    if not isinstance(n_head, int) or n_head < 1:
        raise ModelFormatError(f"invalid num_attention_heads: {n_head!r}")
    head_dim = cfg.get("head_dim") or n_embd // n_head
    theta, scale = _rope_from_hf(cfg, "full_attention")
    kw = dict(
        n_layer=n_layer, n_embd=n_embd, n_head=n_head,
        n_head_kv=cfg.get("num_key_value_heads") or n_head, head_dim=head_dim,
        n_ff=cfg["intermediate_size"], n_vocab=cfg["vocab_size"],
        norm_eps=float(cfg.get("rms_norm_eps", 1e-6)), rope_base=theta, rope_freq_scale=scale,
        n_ctx_train=int(cfg.get("max_position_embeddings", 2048)),
        attn_scale=_attn_scale(arch, n_layer, n_embd, n_head, head_dim, cfg.get("query_pre_attn_scalar")),
    )
    if arch in ("gemma2", "gemma3"):
        kw["sliding_window"] = int(cfg.get("sliding_window") or 4096)
        kw["rope_base_swa"], kw["rope_freq_scale_swa"] = _rope_from_hf(cfg, "sliding_attention")
    if arch == "gemma2":
        kw["attn_softcap"] = float(cfg.get("attn_logit_softcapping") or 0.0)
        kw["final_softcap"] = float(cfg.get("final_logit_softcapping") or 0.0)
    if arch == "gemma3":
        kw["final_softcap"] = float(cfg.get("final_logit_softcapping") or 0.0)
    if arch == "llama" and cfg.get("hidden_act", "silu") != "silu":
        raise Error(f"llama with activation {cfg['hidden_act']!r} is not supported")
    hp = _common(arch, **kw)
    pattern = cfg.get("sliding_window_pattern", cfg.get("_sliding_window_pattern"))
    hp["layer_swa"] = _layer_swa(arch, n_layer, pattern, cfg.get("layer_types"))
    if arch == "gemma2" and cfg.get("layer_types") is None:
        hp["layer_swa"] = _layer_swa(arch, n_layer)
    if not math.isfinite(hp["attn_scale"]):
        raise ModelFormatError("invalid attention scale")
    return hp
