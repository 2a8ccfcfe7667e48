"""scripts/update_readme.py: the README's verdict table is written from the results files."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_script

from helpers.uncertainty import paired_test, verdict_table

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "update_readme.py"



def test_verdict_table_goes_between_the_markers(tmp_path):
    m = load_script(SCRIPT)
    verdict_table({"C3  RAG vs closed-book": paired_test([True] * 20, [False] * 20)}).reset_index().to_csv(
        tmp_path / "03_verdicts.csv", index=False)
    verdict_table({"C2  few-shot vs instruction": paired_test([True, False] * 5, [False, True] * 5)}).reset_index().to_csv(
        tmp_path / "01_verdicts.csv", index=False)
    table = m.verdict_markdown(tmp_path)
    rows = table.splitlines()[2:]
    assert rows[0].startswith("| 01 | C2  few-shot vs instruction") and rows[0].endswith("**not distinguishable** |")
    assert rows[1].startswith("| 03 | C3  RAG vs closed-book | +1.00") and "| 20 |" in rows[1] and rows[1].endswith("**holds** |")
    readme = f"intro\n{m.START}\nold table\n{m.END}\nrest"
    assert m.replace_block(readme, table) == f"intro\n{m.START}\n{table}\n{m.END}\nrest"
    with pytest.raises(ValueError, match="markers"):
        m.replace_block("no markers here", table)
    with pytest.raises(FileNotFoundError, match="run the notebooks"):
        m.verdict_markdown(tmp_path / "empty")


def test_system_table_comes_from_notebook_05s_results(tmp_path):
    import pandas as pd

    m = load_script(SCRIPT)
    pd.DataFrame([{"system": "RAG", "metric": "accuracy", "value": 0.25, "k": 19, "n": 76, "low": 0.17, "high": 0.36},
                  {"system": "RAG", "metric": "abstention_ok", "value": 0.1, "k": 1, "n": 10, "low": 0.02, "high": 0.4}]
                 ).to_csv(tmp_path / "05_intervals.csv", index=False)
    pd.DataFrame([{"system": "RAG", "prompt_tokens": 512.3}]).to_csv(tmp_path / "05_head_to_head.csv", index=False)
    row = m.systems_markdown(tmp_path).splitlines()[2]
    assert row == "| RAG | 25% (19/76, 17%–36%) | – | – | 10% (1/10, 2%–40%) | 512 |"
    with pytest.raises(FileNotFoundError, match="notebook 05"):
        m.systems_markdown(tmp_path / "nothing")


def test_runtime_and_handout_tables_come_from_the_workbook_benchmark(tmp_path):
    import json

    m = load_script(SCRIPT)
    with pytest.raises(FileNotFoundError, match="workbook_time"):
        m.runtime_markdown(tmp_path)
    for label, factor in (("fresh_avx2", 1.0), ("cold", 3.0)):
        (tmp_path / f"{label}.json").write_text(json.dumps({
            "label": label, "total_seconds": 150 * factor, "when": "2026-12-02T05:00:00+00:00",
            "machine": {"CPU cores": 2}, "numerics": {"cpu_kernels": "AVX2", "threads": 2},
            "notebooks": [{"notebook": "00_setup", "seconds": 50 * factor, "peak_rss_mb": 1536,
                           "answers": {"replayed": 3, "reused": 0, "generated": 1},
                           "sections": [["intro", 2.0], ["2. Load", 30.0]],
                           "slowest_cells": [[20.0, 7, "llm = load_llm()"]]},
                          {"notebook": "01_prompt_engineering", "seconds": 100 * factor, "peak_rss_mb": 2048,
                           "answers": None, "sections": [],
                           "slowest_cells": [[60.0, 32, "rows = evaluate_prompts(...)"]]}]}))
    table = m.runtime_markdown(tmp_path).splitlines()
    assert table[0] == ("| notebook | fresh clone, AVX2 kernels (as on most laptops) | peak memory | "
                        "answers replayed / generated | cold: empty caches, nothing replayed | slowest cell (first run) |")
    assert table[2] == "| 00_setup | 50 s | 1.5 GB | 3 / 1 | 150 s | 20 s, cell 7: `llm = load_llm()` |"
    assert table[4] == "| all | **150 s = 2.5 min** | 2.0 GB (max) | | **450 s = 7.5 min** | |"
    assert "fresh_avx2: 2026-12-02, 2 CPU cores, AVX2 kernels, 2 threads" in table[-1]
    handout = m.handout_markdown(tmp_path).splitlines()
    assert handout[2] == "| 00_setup | 50 s | 1.5 GB | 3 / 1 | 2. Load (30 s) |"
    assert handout[3] == "| 01_prompt_engineering | 100 s | 2.0 GB | – | none |"
    assert "benchmarks/workbook_time/fresh_avx2.json" in handout[-1]


