"""Prints the requirements of one optional-dependency group of pyproject.toml, one per line.

    pip install $(python scripts/extra_deps.py test)

The Makefile uses it to install the test references without reinstalling (and
rebuilding) the package itself; benchmarks/bench.py imports requirements() to
find the llama-cpp-python pin.
"""
import pathlib
import sys

try:
    import tomllib
except ImportError:  # Python 3.10
    sys.exit("scripts/extra_deps.py needs Python 3.11 or newer (tomllib)")

PYPROJECT = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"


def requirements(extra: str) -> list:
    """The requirement strings of pyproject.toml's optional-dependency group `extra`."""
    groups = tomllib.loads(PYPROJECT.read_text())["project"].get("optional-dependencies", {})
    if extra not in groups:
        raise KeyError(f"pyproject.toml has no optional-dependencies group {extra!r} (has {sorted(groups)})")
    return list(groups[extra])


if __name__ == "__main__":
    try:
        print("\n".join(requirements(sys.argv[1] if len(sys.argv) > 1 else "test")))
    except KeyError as e:
        sys.exit(e.args[0])
