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


def test_sections_and_answer_sources_come_from_the_executed_notebook():
    m = load_script(SCRIPT)

    def timed(source, seconds):
        return nbformat.v4.new_code_cell(source, metadata={"execution": {
            "iopub.execute_input": "2026-12-02T05:00:00.000000Z",
            "shell.execute_reply": f"2026-12-02T05:00:{seconds:02d}.000000Z"}})

    report = nbformat.v4.new_code_cell("print(replay_report())", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="answers: 40 replayed from the reference run, 2 reused from this machine's "
                                      "cache, 5 generated here\n  reference run recorded with ...\n")])
    nb = nbformat.v4.new_notebook(cells=[
        timed("setup()", 3), nbformat.v4.new_markdown_cell("## 1. Load\ntext"), timed("a()", 10), timed("b()", 5),
        nbformat.v4.new_markdown_cell("### a sub-heading stays in section 1"), timed("c()", 1),
        nbformat.v4.new_markdown_cell("## 2. Train"), timed("d()", 30), report])
    assert m.section_seconds(nb) == [("intro", 3.0), ("1. Load", 16.0), ("2. Train", 30.0)]
    assert m.answer_sources(nb) == {"replayed": 40, "reused": 2, "generated": 5}
    assert m.answer_sources(nbformat.v4.new_notebook(cells=[timed("x()", 1)])) is None


def test_each_run_is_labelled_by_what_it_replays(monkeypatch):
    from argparse import Namespace

    m = load_script(SCRIPT)

    def label(env, empty, **flags):
        monkeypatch.setenv("WORKBOOK_RECORDED_GENERATIONS", env)
        return m.run_label(Namespace(**{"fresh": False, "cold": False, "no_stored_answers": False, **flags}), empty)

    assert label("1", True, fresh=True) == "fresh" and label("strict", True, fresh=True) == "fresh_strict"
    assert label("1", True) == "fresh"  # make prewarm in a fresh clone
    assert label("0", True, cold=True) == "cold" and label("0", True, no_stored_answers=True) == "cold"
    assert label("0", False, no_stored_answers=True) == "generated" and label("1", False) == "warm"
