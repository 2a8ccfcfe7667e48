"""scripts/decision_chart.py: the decision chart is drawn from the verdict tables, whatever is missing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import load_script

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "decision_chart.py"


@pytest.fixture(scope="module")
def chart():
    return load_script(SCRIPT)


def _write(folder: Path, notebook: str, rows: list[tuple]) -> None:
    """A verdict table as the notebooks save it (``verdict_table(...).reset_index().to_csv``, index column)."""
    pd.DataFrame([dict(zip(["claim", "effect", "CI low", "CI high", "n", "p", "verdict"], r)) for r in rows]
                 ).to_csv(folder / f"{notebook}_verdicts.csv")


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    _write(folder, "01", [("C2  chat template vs raw completion, accuracy (16 general)", 0.5625, 0.3125, 0.8125, 16,
                           0.0039, "holds"),
                          ("C2  step by step vs direct, accuracy (8 reasoning)", 0.125, -0.25, 0.5, 8, 1.0,
                           "not distinguishable"),
                          ("injection: something without a claim id", -0.15, -0.25, -0.05, 40, 0.03, "contradicted")])
    _write(folder, "03", [("C3  accuracy, RAG vs closed-book (KB test)", 0.197, 0.105, 0.289, 76, 6.1e-05, "holds"),
                          ("C10 re-ranking raises MRR@10 (KB test)", -0.21, -0.29, -0.13, 76, 1.4e-05, "contradicted")])
    _write(folder, "05", [("C7  accuracy, LoRA + RAG vs RAG with the few-shot JSON prompt (the best prompt)", 0.24, 0.13,
                           0.34, 76, 0.00028, "holds"),
                          ("C7  accuracy, LoRA + RAG vs RAG", 0.145, 0.053, 0.237, 76, 0.0074, "holds"),
                          ("C1  facts never trained (test), RAG vs LoRA", -0.171, -0.263, -0.079, 76, 0.001,
                           "contradicted")])
    return folder


def test_annotations_come_from_the_rows_picked_by_claim_id_and_keyword(chart, results):
    tables = chart.load_verdicts(results)
    assert sorted(tables) == ["01", "03", "05"]
    step = chart.evidence(tables, chart.Pick(("01",), "C2", "step by step", "step by step vs direct"))
    assert step.verdict == "not distinguishable" and step.color == chart.COLORS["not distinguishable"]
    assert step.detail == "+12 points (95% CI -25 to +50), n = 8, p = 1"
    assert step.text == ("step by step vs direct, accuracy (8 reasoning): not distinguishable, "
                         "+12 points (95% CI -25 to +50), n = 8, p = 1")
    assert step.source == "01 · C2"
    template = chart.evidence(tables, chart.PROMPTING[0])
    assert template.verdict == "holds" and template.color == chart.COLORS["holds"]
    assert template.detail.startswith("+56 points (95% CI +31 to +81), n = 16")
    # 05 is preferred to 03 for C3, falling back to 03 when 05 has no C3 row
    rag = chart.evidence(tables, chart.RETRIEVAL[1])
    assert rag.source == "03 · C3" and rag.detail.startswith("+20 points")
    # the keyword picks the plain comparison, not the one against the best prompt listed first
    assert chart.evidence(tables, chart.BEHAVIOUR[3]).detail.startswith("+14 points")
    # "C1" is not "C10"; a contradicted claim is red
    facts = chart.evidence(tables, chart.KNOWLEDGE[0])
    assert facts.verdict == "contradicted" and facts.color == chart.COLORS["contradicted"]
    assert chart.find_row(tables, chart.Pick(("03",), "C1", "re-ranking", "x")) is None
    missing = chart.evidence(tables, chart.BEHAVIOUR[0])  # no 04 table
    assert missing.verdict == chart.MISSING and missing.detail == chart.NOT_MEASURED
    assert missing.text.endswith("not measured yet (run make run)")
    assert chart.points(0.004) == "0" and chart.points(-0.4) == "-40"


def test_chart_is_written_from_synthetic_results(chart, results, tmp_path, capsys):
    out = tmp_path / "images" / "chart.png"
    assert chart.main(["--results", str(results), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert str(out) in capsys.readouterr().out


def test_chart_without_results_says_not_measured(chart, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "04_verdicts.csv").write_text("")  # an unreadable table is skipped, not fatal
    assert chart.load_verdicts(empty) == {}
    shown = [chart.evidence({}, pick) for pick in chart.PROMPTING + chart.RETRIEVAL + chart.BEHAVIOUR + chart.KNOWLEDGE]
    assert all(e.detail == "not measured yet (run make run)" and e.verdict == chart.MISSING for e in shown)
    out = tmp_path / "chart.png"
    assert chart.main(["--results", str(empty), "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    assert "not measured yet" in capsys.readouterr().out
