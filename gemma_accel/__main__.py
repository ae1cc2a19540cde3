"""Command line: python -m gemma_accel {run,info} ..."""
import argparse
import json
import sys

import gemma_accel


def cmd_info(args) -> int:
    print(json.dumps(gemma_accel.info(), indent=2))
    if args.path or args.default:
        path = args.path or gemma_accel.default_model_path()
        with gemma_accel.GGUFFile(path) as f:
            print(f.summary())
    return 0


def cmd_run(args) -> int:
    """The main job on the default model (prints info and the model summary
    until generation lands)."""
    print(json.dumps(gemma_accel.info(), indent=2))
    path = gemma_accel.default_model_path()
    with gemma_accel.GGUFFile(path) as f:
        print(f.summary())
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gemma_accel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="build and CPU facts; with PATH, a model file's summary")
    p.add_argument("path", nargs="?")
    p.add_argument("--default", action="store_true", help="summarize the default model")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("run", help="the main job on the default model")
    p.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except gemma_accel.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
