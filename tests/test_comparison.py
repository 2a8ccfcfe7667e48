"""System comparison rows and computed recommendations."""

from __future__ import annotations

import math

import pandas as pd

from helpers.comparison import compare, recommendations, system_metrics


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


def _table(**overrides):
    base = {"accuracy": 0.3, "JSON valid": math.nan, "cites": math.nan, "sources ok": math.nan}
    rows = {"P": {**base, "accuracy": 0.0}, "R": base, "RJ": {**base, "JSON valid": 0.5, "cites": 0.2, "sources ok": 0.5},
            "L": {**base, "accuracy": 0.0}, "LR": {**base, "JSON valid": 1.0, "cites": 0.9, "sources ok": 0.8}}
    for key, value in overrides.items():
        system, metric = key.split("__")
        rows[system][metric] = value
    return pd.DataFrame(rows).T


def test_recommendations_follow_the_numbers():
    advice = recommendations(_table(), prompt_only="P", rag="R", lora="L", lora_rag="LR", rag_format="RJ")
    text = " ".join(advice)
    assert "Use RAG" in text and "Do not fine-tune to add knowledge" in text and "Fine-tune for the output format" in text
    assert "Combine both" in text
    flipped = " ".join(recommendations(_table(R__accuracy=0.05, RJ__accuracy=0.05), prompt_only="P", rag="R", lora="L",
                                       lora_rag="LR", rag_format="RJ"))
    assert "did not clearly beat" in flipped
    same_format = " ".join(recommendations(_table(**{"RJ__JSON valid": 1.0}), prompt_only="P", rag="R", lora="L",
                                           lora_rag="LR", rag_format="RJ"))
    assert "Prompting already gives the format" in same_format


def test_compare_builds_one_row_per_system():
    scores = pd.concat([_scores([True]).assign(system="a"), _scores([False]).assign(system="b")], ignore_index=True)
    table = compare(scores, {"b": 5.0})
    assert list(table.index) == ["a", "b"] and table.loc["b", "build_seconds"] == 5.0


def test_recommendations_read_the_knowledge_update_table():
    update = pd.DataFrame({"new after": {"P": 0.0, "R": 1.0, "L": 0.25, "LR": 0.75},
                           "update_seconds": {"P": math.nan, "R": 0.04, "L": 120.0, "LR": 0.04}})
    text = recommendations(_table(), prompt_only="P", rag="R", lora="L", lora_rag="LR", rag_format="RJ",
                           update=update)[-1]
    assert "after re-indexing (0.04 s) R gives the new answer for 100% of the changed facts" in text
    assert "L for 25% until it is retrained (120 s of training); best after the update: R" in text
