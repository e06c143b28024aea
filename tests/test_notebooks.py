"""Every notebook under ``notebooks/`` runs top to bottom with nbclient, on the project's kernel.

The glob picks up notebooks other contributors add. A failing cell fails the test with the
notebook, the cell number, its source and the error. Notebooks are executed in a temporary
copy: the committed outputs (kept so the notebooks read well on GitHub) are not rewritten here;
regenerate them on purpose with ``python tests/test_notebooks.py --write``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs nbformat (the test extra)")
nbclient = pytest.importorskip("nbclient", reason="needs nbclient (the test extra)")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMEOUT = 120  # seconds per cell; each notebook runs in well under a minute


def execute(path: Path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(ROOT)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and any(
            o.get("output_type") == "error" for o in c.get("outputs", []))]
        where = f"cell {cells[0]}:\n{nb.cells[cells[0]].source}\n" if cells else ""
        pytest.fail(f"{path.name}: {where}{exc}", pytrace=False)
    return nb


def test_there_are_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"goodhart_demo.ipynb", "policy_comparison.ipynb", "mesa_interop.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    nb = execute(path)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    committed = nbformat.read(path, as_version=4)
    kept = [c for c in committed.cells if c.cell_type == "code" and c.get("outputs")]
    assert kept, f"{path.name}: commit it with its outputs (python tests/test_notebooks.py --write)"


if __name__ == "__main__":  # regenerate the committed outputs on purpose
    if "--write" in sys.argv:
        for p in NOTEBOOKS:
            print("executing", p.name, flush=True)
            nbformat.write(execute(p), p)
