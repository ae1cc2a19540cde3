"""Prefill and decode take different kernels (f32 GEMM on dequantized tiles for chunks,
fused integer dot products for single tokens): on the real Gemma 3 and SmolLM2 (llama)
files the logits they give for the same positions must agree.  Also run under the
sanitizers, which is how a scratch-buffer overrun for llama's shapes was caught."""
import numpy as np
import pytest

import gemma_accel

MAX_ABS_DIFF = 0.1  # measured ~0.01-0.03: activation rounding of the integer path

TEXT = ("The history of the printing press begins in the fifteenth century, when Johannes "
        "Gutenberg combined movable metal type, oil-based ink and a wooden press.")


@pytest.mark.parametrize("which", ["gemma", "smollm2"])
def test_prefill_and_token_by_token_decode_agree(which, gemma_path, smollm2_path):
    path = gemma_path if which == "gemma" else smollm2_path
    with gemma_accel.load(path, n_ctx=256) as m:
        ids = m.tokenize(TEXT)[:24]
        prefill = m.logits(ids)
        m._core.truncate(0)
        decode = np.stack([m._core.eval([t], logits="last") for t in ids])
    assert np.abs(prefill - decode).max() < MAX_ABS_DIFF
    assert (prefill.argmax(-1) == decode.argmax(-1)).all()
