"""System comparison rows and computed recommendations."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from helpers.comparison import compare, intervals, paired, system_metrics
from helpers.evaluation import OUTCOMES, summarize
from helpers.workbook.advice import recommendations
from helpers.workbook.reader_training import compare_candidates


def _scores(correct, types=None, **extra):
    n = len(correct)
    types = types or ["single-fact"] * n
    table = pd.DataFrame({"type": types, "correct": correct, "exact": correct, "f1": [float(c) for c in correct],
                          "abstained": [t == "unanswerable" for t in types], "prompt_tokens": [100] * n,
                          "completion_tokens": [10] * n, "seconds": [float(i + 1) for i in range(n)]})
    for key, values in extra.items():
        table[key] = values
    return table


def test_system_metrics_counts_answerable_and_unanswerable_separately():
    row = system_metrics(_scores([True, False, True, True], ["single-fact", "single-fact", "numeric", "unanswerable"]),
                         build_seconds=3.0)
    assert row["accuracy"] == 2 / 3 and row["abstention_ok"] == 1.0 and row["build_seconds"] == 3.0
    assert math.isnan(row["JSON valid"]) and math.isnan(row["cites"])
    assert row["latency_p50"] == 2.5 and row["n"] == 4


def test_citation_columns_only_count_answers_that_cite():
    row = system_metrics(_scores([True, True, False, False], n_cited=[1, 1, 0, 2], invented=[0, 1, 0, 0],
                                 cit_precision=[1.0, 0.5, None, 0.0], attributed_support=[True, True, False, False]))
    assert row["cites"] == 0.75 and row["sources ok"] == 1 / 3 and row["traceable"] == 0.5


def test_every_rate_counts_from_one_table_of_outcomes():
    """summarize, system_metrics and the intervals of every rate count from the same OUTCOMES."""
    types = ["single-fact", "numeric", "single-fact", "unanswerable", "unanswerable"]
    scores = _scores([True, False, True, False, True], types, n_cited=[1, 0, 2, 0, 1], invented=[0, 0, 1, 0, 0],
                     cit_precision=[1.0, None, 0.5, None, 1.0], attributed_support=[True, False, False, False, True],
                     json_valid=[True, True, False, True, False], json_strict=[True, False, False, True, False])
    scores = scores.assign(system="S", id=[f"q{i}" for i in range(5)])
    row, summary = system_metrics(scores), summarize(scores).iloc[0]
    table = intervals(scores, list(OUTCOMES)).loc["S"]
    for metric in ["accuracy", "exact", "abstention_ok", "wrong_abstention", "JSON valid", "cites", "traceable"]:
        assert row[metric] == table.loc[metric, "value"], metric
    assert summary["json_strict"] == table.loc["JSON strict", "value"] == 0.4
    assert row["sources ok"] == table.loc["correct source cited", "value"] / table.loc["cites", "value"] == 0.5


def test_a_system_that_did_not_measure_citations_gets_nan_not_zero():
    cited = _scores([True, True], n_cited=[1, 0], invented=[0, 0], cit_precision=[1.0, None], attributed_support=[True, False])
    mixed = pd.concat([_scores([True, False]).assign(system="plain"), cited.assign(system="cited")])
    row = system_metrics(mixed[mixed["system"] == "plain"])  # its citation columns exist but are empty
    assert math.isnan(row["cites"]) and math.isnan(row["sources ok"]) and math.isnan(row["traceable"])


def test_a_system_whose_answers_never_cite_has_no_correct_sources():
    never = _scores([True, False], n_cited=[0, 0], invented=[0, 0], cit_precision=[None, None],
                    attributed_support=[False, True]).assign(system="never")
    row = compare(never).loc["never"]  # compare drops its empty cit_precision column
    assert row["cites"] == 0.0 and row["sources ok"] == 0.0 and row["traceable"] == 0.5


def _long(n: int = 60, **correct_share) -> pd.DataFrame:
    """Per-question rows of five systems on the same ``n`` questions (the last 10 unanswerable).

    ``correct_share`` sets each system's share of correct answerable questions (the first ones);
    RJ and LR answer in JSON and cite; LR cites correct sources far more often than RJ."""
    shares = {"P": 0.0, "R": 0.5, "RJ": 0.5, "L": 0.0, "LR": 0.5, **correct_share}
    types = ["single-fact"] * (n - 10) + ["unanswerable"] * 10
    frames = []
    for system, share in shares.items():
        k = round(share * (n - 10))
        correct = [i < k for i in range(n - 10)] + [False] * 10
        extra = {}
        if system in ("RJ", "LR", "R"):
            good = 0.9 if system == "LR" else 0.1
            cite = [i < round(good * n) for i in range(n)]
            extra = {"n_cited": [int(c) for c in cite], "invented": [0] * n,
                     "cit_precision": [1.0 if c else None for c in cite], "attributed_support": correct}
        if system in ("RJ", "LR"):
            extra["json_valid"] = [True] * n if system == "LR" else [i % 2 == 0 for i in range(n)]
        frames.append(_scores(correct, types, **extra).assign(system=system, id=[f"q{i}" for i in range(n)]))
    return pd.concat(frames, ignore_index=True)


NAMES = {"prompt_only": "P", "rag": "R", "lora": "L", "lora_rag": "LR", "rag_format": "RJ"}


def test_recommendations_follow_paired_tests():
    text = " ".join(recommendations(_long(), **NAMES))
    assert "Use RAG" in text and "claim C3 holds" in text and "exact McNemar p" in text and "n = 60" in text
    assert "Do not fine-tune to add knowledge" in text
    assert "Fine-tune for the output format (claim C6)" in text
    assert "Combine both for answers that cite their source (claim C7)" in text
    flipped = " ".join(recommendations(_long(R=0.04, RJ=0.04), **NAMES))  # 2 of 50 questions: no evidence
    assert "RAG did not beat prompting alone" in flipped and "not distinguishable" in flipped
    assert "questions would detect a 10-point difference" in flipped
    same_format = _long()
    same_format.loc[same_format["system"] == "RJ", "json_valid"] = True
    assert "Fine-tuning did not improve the format" in " ".join(recommendations(same_format, **NAMES))


def test_paired_and_intervals_read_per_question_outcomes():
    scores = _long()
    test = paired(scores, "R", "P")
    assert (test.only_a, test.only_b, test.n) == (25, 0, 50) and test.distinguishable
    table = intervals(scores, ["accuracy", "JSON valid"])
    assert table.loc[("R", "accuracy"), "k"] == 25 and table.loc[("R", "accuracy"), "n"] == 50
    assert ("R", "JSON valid") not in table.index  # a text system did not measure JSON
    assert ("P", "accuracy") in table.index and ("P", "cites") not in intervals(scores, ["cites"]).index
    assert table.loc[("LR", "JSON valid"), "n"] == 60
    low, high = table.loc[("R", "accuracy"), ["low", "high"]]
    assert low < 0.5 < high


def test_compare_builds_one_row_per_system():
    scores = pd.concat([_scores([True]).assign(system="a"), _scores([False]).assign(system="b")], ignore_index=True)
    table = compare(scores, {"b": 5.0})
    assert list(table.index) == ["a", "b"] and table.loc["b", "build_seconds"] == 5.0


def test_recommendations_read_the_knowledge_update_table():
    update = pd.DataFrame({"new after": {"P": 0.0, "R": 1.0, "L": 0.25, "LR": 0.75}, "n": {k: 8 for k in "P R L LR".split()},
                           "update_seconds": {"P": math.nan, "R": 0.04, "L": 120.0, "LR": 0.04}})
    text = recommendations(_long(), **NAMES, update=update)[-1]
    assert "after re-indexing (0.04 s) R gives the new answer for 100% (8/8, 95% CI 68%–100%) of the changed facts" in text
    assert "L for 25% (2/8, 95% CI 7%–59%) until it is retrained (120 s of training)" in text


def test_compare_candidates_counts_handled_right_and_separates_only_what_the_paired_test_separates():
    def system(name, correct):
        types = ["single-fact"] * 30 + ["unanswerable"] * 10
        table = _scores(correct, types, id=[f"q{i}" for i in range(40)], system=name)
        table["abstained"] = [t == "unanswerable" and c for t, c in zip(types, correct)]
        return table

    reference = [False] * 40
    scores = pd.concat([system("shipped", reference), system("one more", [True] + [False] * 39),
                        system("much better", [True] * 20 + [False] * 20), system("same", reference)])
    table = compare_candidates(scores, "shipped")
    assert list(table.index) == ["shipped", "one more", "much better", "same"]
    assert table.loc["shipped", "verdict"] == "reference"
    assert table.loc["one more", "verdict"] == table.loc["same", "verdict"] == "not distinguishable"  # one question is noise
    assert table.loc["much better", "verdict"] == "better" and table.loc["much better", "p"] < 0.05
    assert table.loc["much better", "handled right"].startswith("20/40 ")
    assert table.loc["much better", "accuracy"].startswith("20/30 ")  # answerable questions only
    assert table.loc["much better", "difference"] == 0.5
    unanswered = compare_candidates(system("a", [False] * 30 + [True] * 10), "a")
    assert unanswered.loc["a", "right abstentions"].startswith("10/10 ")  # "I don't know" to an unanswerable one
    with pytest.raises(KeyError, match="not among the systems"):
        compare_candidates(scores, "missing")


def test_summary_recommendations_say_a_distinguishably_worse_reader_is_worse():
    from helpers.workbook.advice import summary_recommendations

    def test(a, b, verdict, difference):
        return {"a": a, "b": b, "metric": "accuracy", "verdict": verdict, "difference": difference,
                "sentence": f"{a} vs {b}"}

    worse = summary_recommendations({"paired": [test("rag", "prompt", "holds", 0.3),
                                                test("lora+rag", "rag", "contradicted", -0.2)]})
    assert worse[0].startswith("Retrieve:") and worse[1].startswith("The fine-tuned reader does worse")
    tie = summary_recommendations({"paired": [test("lora+rag", "rag", "not distinguishable", -0.02)]})
    assert "not distinguishable" in tie[0]
    better = summary_recommendations({"paired": [test("lora+rag", "rag", "holds", 0.2)]})
    assert better[0].startswith("Fine-tune the behaviour, retrieve the knowledge")
