"""A/B of two gemma_accel checkouts on the same machine: "did this change lose speed?"

    python benchmarks/ab.py --before /tmp/before --after . [--runs 12] [--kernel-set avx2]

Each checkout must have its extension built in place (`setup.py build_ext --inplace`); a
worktree of the old commit does (`git worktree add /tmp/before <commit>`).  The two run in
alternating child processes of bench.py (the same token ids, model file and thread count,
the order flipped every run, since this machine's bandwidth drifts), and the medians of
prefill 128/512, decode and peak RSS are printed with after/before.  llama.cpp is the same
binary for both, so a ratio against it moves by exactly after/before.
"""
import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402  (its run_child runs either checkout)
METRICS = ("prefill128_tps", "prefill512_tps", "decode_tps", "peak_rss_mib")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", default=str(HERE.parent))
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kernel-set")
    args = ap.parse_args()
    bench.KERNEL_SET = args.kernel_set
    from gemma_accel.model_paths import default_model_path
    model = default_model_path()
    ids = HERE / ".cache" / "bench_ids.json"
    if not ids.exists():
        sys.exit(f"{ids} is missing: run benchmarks/bench.py once first (it writes the token ids)")
    runs = {"before": [], "after": []}
    for i in range(args.runs):
        order = ("before", "after") if i % 2 == 0 else ("after", "before")
        for name in order:
            runs[name].append(bench.run_child("ga", 16, model, ids, args.threads, "main", root=getattr(args, name)))
        print(f"run {i + 1}/{args.runs}", file=sys.stderr)
    print(f"{'metric':16s} {'before':>9s} {'after':>9s}  after/before   ({args.runs} runs each, medians"
          f"{', kernel set ' + args.kernel_set if args.kernel_set else ''})")
    for k in METRICS:
        b = statistics.median(r[k] for r in runs["before"])
        a = statistics.median(r[k] for r in runs["after"])
        print(f"{k:16s} {b:9.1f} {a:9.1f}  {a / b:.3f}")


if __name__ == "__main__":
    main()
