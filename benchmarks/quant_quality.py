"""Quantization quality table: every gemma_accel profile next to llama.cpp's own quantizer.

    make bench-quant        (= python benchmarks/quant_quality.py)

Source: there is no original BF16 Gemma 3 270M on this machine, so the source is
an F32 GGUF written from the bundled Q4_K_M GGUF (profile "f32": exact
dequantization).  Every row quantizes that same F32 file; KL divergence and
top-1 agreement are against it, perplexity on benchmarks/text/evaluation.txt
(512-token chunks, second half scored, as llama.cpp's perplexity tool does).
llama.cpp rows use llama_cpp.llama_model_quantize on the same F32 file and are
evaluated by the same code.  Sensitivity (which tensor kinds hurt most at 4 bits)
is measured on benchmarks/text/calibration.txt, a separate text.

Writes benchmarks/results/quant_quality.{md,csv} and quant_sensitivity.md.
"""
import argparse
import csv
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import gemma_accel  # noqa: E402
from gemma_accel.perplexity import ReferenceLogprobs, evaluate  # noqa: E402

KINDS = ("token_embd", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
PROFILES = ("q8_0", "q4_0", "q4_1", "q4_k", "int4-aggressive", "int4-balanced", "awq-lite", "mixed")
LLAMA_CPP = (("llama.cpp Q8_0", "LLAMA_FTYPE_MOSTLY_Q8_0"), ("llama.cpp Q4_0", "LLAMA_FTYPE_MOSTLY_Q4_0"),
             ("llama.cpp Q4_K_M", "LLAMA_FTYPE_MOSTLY_Q4_K_M"))


def machine() -> str:
    cpu = "?"
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def llama_cpp_quantize(src, dst, ftype_name):
    import llama_cpp
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, ftype_name)
    params.nthread = os.cpu_count() or 1
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize failed ({rc})")


def n_params(path):
    with gemma_accel.GGUFFile(path) as f:
        return f.n_params()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="/tmp/gemma_accel_bench_quant")
    ap.add_argument("--chunks", type=int, default=None, help="evaluation chunks (default: all)")
    ap.add_argument("--skip-sensitivity", action="store_true")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    eval_text = (HERE / "text" / "evaluation.txt").read_text()
    calib_path = HERE / "text" / "calibration.txt"
    calib_text = calib_path.read_text()
    t_start = time.time()

    source = work / "source-f32.gguf"
    if not source.exists():
        gemma_accel.quantize(gemma_accel.default_model_path(), source, profile="f32", progress=False)
    print("computing reference log-probabilities...", flush=True)
    ref = ReferenceLogprobs(source, eval_text, n_ctx=512, max_chunks=args.chunks, path=work / "ref_eval.npy")

    # ---- sensitivity: one tensor kind at a time to Q4_0, the rest F32
    sens_rows = []
    if not args.skip_sensitivity:
        ref_cal = ReferenceLogprobs(source, calib_text, n_ctx=512, max_chunks=1, path=work / "ref_cal.npy")
        for kind in KINDS:
            dst = work / f"sens-{kind}.gguf"
            r = gemma_accel.quantize(source, dst, profile="f32", type_overrides={kind: "Q4_0"},
                                     overwrite=True, progress=False)
            res = evaluate(dst, calib_text, reference=ref_cal, n_ctx=512)
            saved = (source.stat().st_size - r.output_bytes) / 1e6
            sens_rows.append((kind, res.mean_kl, res.top1, saved))
            print(f"sensitivity {kind}: KL {res.mean_kl:.5f} top1 {res.top1:.3f}", flush=True)
            dst.unlink()
        # the extra bytes of 8 vs 4 bits are proportional to the F32->Q4_0 saving
        sens_rows.sort(key=lambda r: r[1], reverse=True)
        with open(out_dir / "quant_sensitivity.md", "w") as f:
            f.write("# Per-tensor-kind sensitivity at 4 bits (Gemma 3 270M)\n\n"
                    "Each row: that tensor kind in every layer quantized to Q4_0, everything else F32 "
                    "(source: F32 GGUF dequantized from the bundled Q4_K_M); mean KL divergence and "
                    "top-1 agreement vs the F32 source on benchmarks/text/calibration.txt (1 chunk of 512, "
                    "second half scored).  KL per 100 MB is KL divided by the bytes 4-bit storage saves "
                    "over F32 (promoting to 8 bits costs about half of that back).\n\n"
                    "| kind | mean KL | top-1 | MB saved vs F32 | KL per 100 MB saved |\n|---|---|---|---|---|\n")
            for kind, kl, top1, saved in sens_rows:
                f.write(f"| {kind} | {kl:.5f} | {100 * top1:.2f} % | {saved:.1f} | {100 * kl / saved:.5f} |\n")
            f.write(f"\nint4-balanced keeps at 8 bits: {', '.join(gemma_accel.quant_profiles.BALANCED_8BIT_KINDS)}\n")

    # ---- the table
    rows = []

    def measure(label, path, how):
        res = evaluate(path, eval_text, reference=ref, n_ctx=512)
        size = os.path.getsize(path)
        bpw = 8 * size / n_params(path)
        rows.append(dict(name=label, how=how, size_mb=size / 1e6, bpw=bpw, ppl=res.perplexity, kl=res.mean_kl,
                         kl_err=res.kl_stderr, top1=res.top1))
        print(f"{label:20s} {size / 1e6:7.1f} MB {bpw:5.2f} bpw ppl {res.perplexity:8.3f} KL {res.mean_kl:.5f} "
              f"top1 {100 * res.top1:.2f} %", flush=True)
        return res

    ref_res = evaluate(source, eval_text, reference=ref, n_ctx=512)
    rows.append(dict(name="source F32", how="F32 GGUF from the bundled Q4_K_M", size_mb=source.stat().st_size / 1e6,
                     bpw=32.0, ppl=ref_res.perplexity, kl=ref_res.mean_kl, kl_err=ref_res.kl_stderr,
                     top1=ref_res.top1))
    for profile in PROFILES:
        dst = work / f"ga-{profile}.gguf"
        t0 = time.time()
        calib = calib_path if profile in ("awq-lite", "mixed") else None
        gemma_accel.quantize(source, dst, profile=profile, calibration=calib, overwrite=True, progress=False)
        measure(f"gemma_accel {profile}", dst, f"quantize {time.time() - t0:.1f} s")
    for label, ftype in LLAMA_CPP:
        dst = work / f"llama-{ftype}.gguf"
        t0 = time.time()
        llama_cpp_quantize(source, dst, ftype)
        measure(label, dst, f"llama_model_quantize {time.time() - t0:.1f} s")

    cmd = "make bench-quant  (python benchmarks/quant_quality.py" + \
        (f" --chunks {args.chunks}" if args.chunks else "") + ")"
    with open(out_dir / "quant_quality.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(out_dir / "quant_quality.md", "w") as f:
        f.write("# Quantization quality: Gemma 3 270M (pretrained)\n\n"
                f"Command: `{cmd}`  \nMachine: {machine()}  \nTotal time: {time.time() - t_start:.0f} s\n\n"
                "**Source:** no original BF16 checkpoint is available offline, so the source is an F32 GGUF "
                "dequantized from the bundled Q4_K_M GGUF.  Every row quantizes that F32 file.  Caveat: "
                "the source's values already lie on Q5_0/Q8_0/Q4_K/Q6_K grids, so re-quantizing to those "
                "same types (llama.cpp Q4_K_M, Q8_0; q4_k) is nearly lossless here, which flatters them.\n\n"
                f"Evaluation: benchmarks/text/evaluation.txt, {ref_res.n_chunks} chunks of 512 tokens, "
                f"second half of each scored ({ref_res.n_tokens} tokens), as llama.cpp's perplexity tool; "
                "KL = mean KL(source || quantized) per token, top-1 = same most likely token.  All rows run "
                "on gemma_accel's engine.  awq-lite and mixed calibrate on benchmarks/text/calibration.txt.\n\n"
                "| model | size MB | bits/weight | PPL | mean KL | ± | top-1 | notes |\n"
                "|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r['name']} | {r['size_mb']:.1f} | {r['bpw']:.2f} | {r['ppl']:.3f} | {r['kl']:.5f} | "
                    f"{r['kl_err']:.5f} | {100 * r['top1']:.2f} % | {r['how']} |\n")
        if sens_rows:
            f.write("\nSensitivity ranking (calibration text): see quant_sensitivity.md.\n")
    print(f"wrote {out_dir / 'quant_quality.md'}")


if __name__ == "__main__":
    main()
