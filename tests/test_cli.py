"""python -m gemma_accel: generate, info, run, and errors, as a user runs them."""
import subprocess
import sys


def run_cli(*args, check=True):
    return subprocess.run([sys.executable, "-m", "gemma_accel", *args], capture_output=True, text=True,
                          timeout=300, check=check)


def test_generate_prints_text_and_timings(gemma_path):
    out = run_cli("generate", "Paris is the capital of", "--max-tokens", "4", "--temperature", "0")
    assert out.stdout.startswith(" France")
    assert "generated 4 tokens" in out.stderr and "load" in out.stderr


def test_info_summarizes_a_file(gemma_path):
    out = run_cli("info", str(gemma_path))
    assert '"kernel_set"' in out.stdout and "gemma3" in out.stdout and "Q5_0" in out.stdout


def test_run_answers_with_the_default_model():
    out = run_cli("run")
    assert "Jupiter" in out.stdout and "tok/s" in out.stdout


def test_errors_are_one_line_not_tracebacks(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"<!DOCTYPE html><html>not a model</html>")
    out = run_cli("generate", "hi", "--model", str(bad), check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "bad.gguf" in out.stderr and "HTML" in out.stderr
    out = run_cli("generate", "hi", "--temperature", "-1", "--max-tokens", "2", check=False)
    assert out.returncode == 1 and "temperature" in out.stderr
