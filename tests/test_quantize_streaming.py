"""Streaming: a multi-GB checkpoint quantizes within 256 MiB + one row chunk of peak RSS,
and so do the calibrated profiles (awq-lite, int4-balanced) on a >1 GB checkpoint.

The checkpoints (llama-shaped BF16) are written slice by slice; the quantizer runs
in a child process, which reports its own VmHWM from /proc/self/status at the end
(ru_maxrss would carry the parent's peak over fork+exec).
"""
import json
import os
import subprocess
import sys

import pytest

from gemma_accel.quantize.quantizer import CHUNK_BYTES

from quant_helpers import llama_config, write_byte_tokenizer, write_checkpoint

CHILD = r"""
import json, sys
import gemma_accel
r = gemma_accel.quantize(sys.argv[1], sys.argv[2], profile=sys.argv[3], progress=False)
hwm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"hwm": hwm, "input": r.input_bytes, "output": r.output_bytes, "report_rss": r.peak_rss_bytes}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_multi_gb_checkpoint_peak_rss(tmp_path):
    cfg = llama_config(hidden=2048, layers=12, vocab=131072, ff=5632, heads=16, kv_heads=8)
    src = write_checkpoint(str(tmp_path / "big"), cfg, dtype="BF16", shards=2)
    dst = tmp_path / "big-q4_0.gguf"
    res = subprocess.run([sys.executable, "-c", CHILD, src, str(dst), "q4_0"], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["input"] > 2.2e9                       # really multi-GB
    assert out["output"] < out["input"] * 0.6 and dst.exists()
    bound = 256 * 2**20 + CHUNK_BYTES
    assert out["hwm"] < bound, f"peak RSS {out['hwm'] / 2**20:.0f} MiB exceeds {bound / 2**20:.0f} MiB"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.parametrize("profile", ["awq-lite", "int4-balanced"])
def test_calibrated_profiles_peak_rss(tmp_path_factory, profile):
    """Calibration runs one layer at a time and reads the embedding and head in row chunks: its
    peak stays within the same bound on a checkpoint whose embedding alone would exceed it."""
    folder = str(tmp_path_factory.getbasetemp() / "wide")
    if not os.path.exists(os.path.join(folder, "config.json")):
        cfg = llama_config(hidden=512, layers=2, vocab=300_000, ff=1024, heads=8, kv_heads=4)
        write_byte_tokenizer(write_checkpoint(folder, cfg, dtype="BF16"))
    dst = tmp_path_factory.mktemp(profile) / "out.gguf"
    res = subprocess.run([sys.executable, "-c", CHILD, folder, str(dst), profile], capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["input"] > 6e8 and dst.exists()      # embedding + head in F32: 1.2 GB
    bound = 256 * 2**20 + CHUNK_BYTES
    assert out["hwm"] < bound, f"{profile}: peak RSS {out['hwm'] / 2**20:.0f} MiB exceeds {bound / 2**20:.0f} MiB"
