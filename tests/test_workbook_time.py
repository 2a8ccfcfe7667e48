"""benchmarks/workbook_time.py: per-cell seconds from nbclient's timestamps, and cache files per folder."""

from __future__ import annotations

from pathlib import Path

import nbformat
from conftest import load_script

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "workbook_time.py"



def test_cell_seconds_reads_the_execution_timestamps():
    m = load_script(SCRIPT)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# title"),
        nbformat.v4.new_code_cell("# a comment\nx = slow()\n", metadata={"execution": {
            "iopub.execute_input": "2026-12-02T05:00:00.000000Z", "shell.execute_reply": "2026-12-02T05:01:02.500000Z"}}),
        nbformat.v4.new_code_cell("never_run()"),
    ])
    assert m.cell_seconds(nb) == [(62.5, 1, "x = slow()")]


def test_cache_files_counts_each_cache_folder(tmp_path):
    m = load_script(SCRIPT)
    assert m.cache_files(tmp_path / "missing") == {}
    (tmp_path / "generations" / "ab").mkdir(parents=True)
    for name in ("1.json", "2.json"):
        (tmp_path / "generations" / "ab" / name).write_text("{}")
    (tmp_path / "models").mkdir()
    assert m.cache_files(tmp_path) == {"generations": 2, "models": 0}
