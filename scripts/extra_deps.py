"""Prints the requirements of one optional-dependency group of pyproject.toml, one per line.

    pip install $(python scripts/extra_deps.py test)

The Makefile uses it to install the test references without reinstalling (and
rebuilding) the package itself.
"""
import pathlib
import sys

try:
    import tomllib
except ImportError:  # Python 3.10
    sys.exit("scripts/extra_deps.py needs Python 3.11 or newer (tomllib)")

extra = sys.argv[1] if len(sys.argv) > 1 else "test"
project = tomllib.loads((pathlib.Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
groups = project.get("optional-dependencies", {})
if extra not in groups:
    sys.exit(f"pyproject.toml has no optional-dependencies group {extra!r} (has {sorted(groups)})")
print("\n".join(groups[extra]))
