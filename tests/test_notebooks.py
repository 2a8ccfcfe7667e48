"""Structure checks for the notebooks (their execution is tested by `pytest --nbval-lax notebooks/`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_setup.ipynb"


def test_every_notebook_opens_with_the_same_bootstrap_cell():
    first_code = {p.name: next(_source(c) for c in _cells(p) if c["cell_type"] == "code") for p in NOTEBOOKS}
    reference = first_code[NOTEBOOKS[0].name]
    assert "start_notebook()" in reference
    for name, source in first_code.items():
        assert source == reference, f"{name}: bootstrap cell differs from 00_setup.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_reads_like_a_tutorial(path):
    cells = _cells(path)
    intro = _source(cells[0])
    assert cells[0]["cell_type"] == "markdown" and intro.startswith("# ")
    assert "What you will learn" in intro and "Time:" in intro
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert "## Summary" in markdown and "## Exercises" in markdown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_outputs_come_from_one_clean_run(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]
    counts = [c.get("execution_count") for c in code]
    assert all(n is None for n in counts) or counts == list(range(1, len(code) + 1)), \
        f"{path.name}: execution counts {counts} are not a clean top-to-bottom run"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name} has committed error outputs"
