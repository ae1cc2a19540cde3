"""The notebooks run headless from top to bottom: quickstart.ipynb and backends.ipynb."""
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run_notebook(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the plot was not drawn"
    return "".join(o.get("text", "") for o in outputs)


def test_quickstart_notebook_runs(gemma_path):
    run_notebook("quickstart.ipynb")


def test_backends_notebook_runs(gemma_path):
    from gemma_accel import _core
    text = run_notebook("backends.ipynb")
    assert "cpu    ran on cpu" in text
    # with a Vulkan device (lavapipe in CI) the second run is on it, with its timings
    want = "vulkan ran on vulkan" if _core.vulkan_devices()[0] else "vulkan ran on cpu"
    assert want in text, text
