"""The notebook runs from the repo root and from elsewhere; it is committed clean."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NOTEBOOK = ROOT / "notebooks" / "downloads_report.ipynb"


@pytest.fixture
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make kernel "python3" this interpreter (the venv's), whatever kernels the user has.

    ``JUPYTER_PATH`` comes first in Jupyter's search path, before the user's own kernelspecs,
    so a ``python3`` kernel elsewhere on the machine cannot shadow this one.
    """
    spec = tmp_path / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (dfkit tests)",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # The notebook must use the bundled sample, never a live account.
    monkeypatch.delenv("DATAFINITI_API_TOKEN", raising=False)
    monkeypatch.delenv("DATAFINITI_API_URL", raising=False)
    # Charts as a user sees them (inline), not the Agg backend ``make test`` sets for pytest.
    monkeypatch.delenv("MPLBACKEND", raising=False)


def outputs_text(nb: Any) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


@pytest.mark.parametrize("where", ["repo root", "elsewhere"])
def test_notebook_runs(where: str, tmp_path: Path, kernel_env: None) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    cwd = ROOT if where == "repo root" else tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    before = sorted(p.name for p in cwd.iterdir())

    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, if a cell fails

    text = outputs_text(nb)
    assert "200 downloads from the bundled sample" in text
    assert "queued -> completed, 3 result files" in text
    assert any(
        "image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", [])
    ), "the plots cell shows a chart"
    # It writes only to a temporary directory, never where it runs.
    assert sorted(p.name for p in cwd.iterdir()) == before


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name} cell {i} has outputs: clear them before committing "
                "(jupyter nbconvert --clear-output --inplace)"
            )
