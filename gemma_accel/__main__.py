"""Command line for gemma_accel.

    python -m gemma_accel generate "Why is the sky blue?" [--model PATH] [--max-tokens N] [--temperature T]
    python -m gemma_accel chat [--model PATH]          interactive, streaming; empty line or Ctrl-D quits
    python -m gemma_accel info [PATH]                  build and CPU facts, and a model file's summary
    python -m gemma_accel run                          what `make run` does: answer a question with the default model
    python -m gemma_accel quantize SRC DST --profile P [--exclude-layers 0,17] [--calibration FILE]
    python -m gemma_accel perplexity MODEL TEXTFILE [--reference MODEL] [--n-ctx 512]
"""
import argparse
import json
import sys

import gemma_accel

# The bundled model is the pretrained (not instruction-tuned) Gemma 3 270M, so the
# demo asks in a question/answer format it continues well, and stops at the line end.
RUN_PROMPT = "Q: What is the largest planet in the solar system?\nA:"


def _timings_line(c) -> str:
    t = c.timings
    gen_rate = t["generated_tokens"] / t["generate_s"] if t["generate_s"] > 0 else 0.0
    prompt_rate = t["prompt_tokens"] / t["prompt_s"] if t["prompt_s"] > 0 else 0.0
    return (f"[load {t['load_s']:.2f} s | prompt {t['prompt_tokens']} tokens in {t['prompt_s']:.2f} s "
            f"({prompt_rate:.1f} tok/s) | generated {t['generated_tokens']} tokens in {t['generate_s']:.2f} s "
            f"({gen_rate:.1f} tok/s) | {c.finish_reason}]")


def _load(args):
    return gemma_accel.load(args.model, n_ctx=args.n_ctx, n_threads=args.threads)


def _stream(model, run, **kwargs):
    stream = run(stream=True, **kwargs)
    for piece in stream:
        print(piece, end="", flush=True)
    print()
    return stream.completion


def cmd_generate(args) -> int:
    with _load(args) as model:
        c = _stream(model, lambda **kw: model.generate(args.prompt, **kw), max_tokens=args.max_tokens,
                    temperature=args.temperature, seed=args.seed)
    print(_timings_line(c), file=sys.stderr)
    return 0


def cmd_chat(args) -> int:
    messages = []
    if args.system:
        messages.append({"role": "system", "content": args.system})
    with _load(args) as model:
        print(f"chatting with {model.path.name} (empty line or Ctrl-D to quit)", file=sys.stderr)
        while True:
            try:
                line = input("> ")
            except EOFError:
                print(file=sys.stderr)
                break
            if not line.strip():
                break
            messages.append({"role": "user", "content": line})
            c = _stream(model, lambda **kw: model.chat(messages, **kw), max_tokens=args.max_tokens,
                        temperature=args.temperature, seed=args.seed)
            messages.append({"role": "assistant", "content": c.text})
            if args.verbose:
                print(_timings_line(c), file=sys.stderr)
    return 0


def cmd_info(args) -> int:
    print(json.dumps(gemma_accel.info(), indent=2))
    if args.path:
        with gemma_accel.GGUFFile(args.path) as f:
            print(f.summary())
    return 0


def cmd_run(args) -> int:
    info = gemma_accel.info()
    print(f"gemma_accel {info['version']}: kernels {info['kernel_set']}, {info['threads']} threads, "
          f"OpenBLAS {'yes' if info['openblas'] else 'no'}")
    path = gemma_accel.default_model_path()
    print(f"model: {path}")
    with gemma_accel.load(path) as model:
        print(RUN_PROMPT, end="", flush=True)
        c = _stream(model, lambda **kw: model.generate(RUN_PROMPT, **kw), max_tokens=64, temperature=0.0,
                    stop=["\n"])
    print(_timings_line(c))
    return 0


def cmd_quantize(args) -> int:
    report = gemma_accel.quantize(args.src, args.dst, profile=args.profile,
                                  exclude_layers=args.exclude_layers or (), calibration=args.calibration,
                                  overwrite=args.overwrite, progress=not args.quiet,
                                  target_bpw=args.target_bpw)
    print(report)
    return 0


def cmd_perplexity(args) -> int:
    from gemma_accel.quantize.perplexity import evaluate
    with open(args.textfile, encoding="utf-8") as f:
        text = f.read()
    print(evaluate(args.model, text, reference=args.reference, n_ctx=args.n_ctx, max_chunks=args.chunks,
                   n_threads=args.threads))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gemma_accel",
                                     description="Fast Gemma inference with a C core.")
    sub = parser.add_subparsers(dest="command", required=True)

    def model_options(p):
        p.add_argument("--model", help="GGUF file or Hugging Face folder (default: the bundled Gemma 3 270M)")
        p.add_argument("--max-tokens", type=int, default=256)
        p.add_argument("--temperature", type=float, default=0.7)
        p.add_argument("--seed", type=int, default=None)
        p.add_argument("--n-ctx", type=int, default=None)
        p.add_argument("--threads", type=int, default=None)

    p = sub.add_parser("generate", help="continue a prompt, streaming the text")
    p.add_argument("prompt")
    model_options(p)
    p.set_defaults(func=cmd_generate)
    p = sub.add_parser("chat", help="interactive chat, streaming")
    model_options(p)
    p.add_argument("--system", help="a system prompt")
    p.add_argument("-v", "--verbose", action="store_true", help="print timings after each answer")
    p.set_defaults(func=cmd_chat)
    p = sub.add_parser("info", help="build and CPU facts; with PATH, a GGUF file's summary")
    p.add_argument("path", nargs="?")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("run", help="answer a question with the default model (what `make run` does)")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("quantize", help="quantize a Hugging Face folder or a GGUF to a smaller GGUF")
    p.add_argument("src", help="Hugging Face folder (F32/F16/BF16 safetensors) or GGUF file")
    p.add_argument("dst", help="output GGUF file")
    p.add_argument("--profile", default="q4_0", choices=gemma_accel.PROFILES)
    p.add_argument("--exclude-layers", help="comma-separated layers kept at source precision, e.g. 0,17")
    p.add_argument("--calibration", help="calibration text file for awq-lite, mixed and int4-balanced")
    p.add_argument("--target-bpw", type=float, help="mixed: size budget in bits per weight (default 5.0)")
    p.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_quantize)
    p = sub.add_parser("perplexity", help="perplexity on a text; KL divergence and top-1 vs a reference")
    p.add_argument("model")
    p.add_argument("textfile")
    p.add_argument("--reference", help="reference model (e.g. the unquantized source)")
    p.add_argument("--n-ctx", type=int, default=512)
    p.add_argument("--chunks", type=int, default=None, help="score at most this many chunks")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_perplexity)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (gemma_accel.Error, ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
