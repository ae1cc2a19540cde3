"""Chat prompts: the model's own template (jinja2), Gemma's rules as a fallback.

Gemma has no system role: a system message is folded into the first user
turn ("system\n\nuser"), as Gemma's official template does, before any
template sees the messages.
"""
from ._core import Error

GEMMA_ARCHS = ("gemma", "gemma2", "gemma3")


def _content(message) -> str:
    content = message.get("content", "")
    if isinstance(content, list):  # OpenAI-style parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    if not isinstance(content, str):
        raise ValueError(f"message content must be a string, got {type(content).__name__}")
    return content


def normalize_messages(messages, fold_system: bool):
    """Validate roles/contents; fold a leading system message into the first user turn."""
    if not messages:
        raise ValueError("messages is empty")
    msgs = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m:
            raise ValueError(f"message {i} must be a dict with 'role' and 'content'")
        msgs.append({"role": m["role"], "content": _content(m)})
    if fold_system and msgs[0]["role"] == "system":
        system = msgs.pop(0)["content"]
        if msgs and msgs[0]["role"] == "user":
            msgs[0]["content"] = f"{system.strip()}\n\n{msgs[0]['content']}"
        else:
            msgs.insert(0, {"role": "user", "content": system})
    if fold_system:
        for i, m in enumerate(msgs):
            want = "user" if i % 2 == 0 else "assistant"
            if m["role"] != want:
                raise ValueError(f"message {i} has role {m['role']!r}: Gemma needs user/assistant turns "
                                 f"alternating, starting with user (a system message may come first)")
    return msgs


def gemma_prompt(messages, bos: str = "<bos>") -> str:
    """Gemma's chat format, as its official template renders it."""
    out = [bos]
    for m in messages:
        role = "model" if m["role"] == "assistant" else m["role"]
        out.append(f"<start_of_turn>{role}\n{m['content'].strip()}<end_of_turn>\n")
    out.append("<start_of_turn>model\n")
    return "".join(out)


def special_text(tok, token_id) -> str:
    """The literal text of a special token ('' for None)."""
    if token_id is None:
        return ""
    return tok.token_to_piece(token_id, special=True).decode("utf-8", errors="replace")


def render_chat(model, messages) -> str:
    tok = model.tokenizer
    if tok is None:
        raise Error("this model has no tokenizer, so it cannot chat")
    is_gemma = model.hparams["arch_name"] in GEMMA_ARCHS
    msgs = normalize_messages(messages, fold_system=is_gemma)
    bos = special_text(tok, tok.bos_id)
    eos = special_text(tok, tok.eos_id)
    template = model.chat_template
    if not template:
        if is_gemma:
            return gemma_prompt(msgs, bos)
        raise Error("this model stores no chat template; use generate() with your own prompt")
    try:
        import jinja2
        import jinja2.sandbox
    except ImportError as exc:
        raise Error("chat templates need jinja2: pip install jinja2") from exc

    def raise_exception(message):
        raise ValueError(f"chat template: {message}")

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(messages=msgs, bos_token=bos, eos_token=eos,
                                            add_generation_prompt=True)
