"""Side-by-side metrics for whole systems (prompt-only, RAG, LoRA, LoRA + RAG): notebooks 04 and 05.

:func:`system_metrics` turns one system's rows (from :func:`helpers.systems.evaluate_systems`) into a
row of the comparison, :func:`compare` does it for all; :func:`intervals` gives each rate its n and
95% interval, :func:`paired` compares two systems question by question and :func:`paired_sentence` says
what such a test found. The advice drawn from them lives in :mod:`helpers.workbook.advice`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from helpers.evaluation import OUTCOMES, outcome_of, outcome_rate, summarize
from helpers.uncertainty import PairedTest, paired_test, questions_needed, rate


def system_metrics(scores: pd.DataFrame, *, build_seconds: float = 0.0) -> pd.Series:
    """One comparison row from a per-question score table: ``accuracy``/``exact``/``f1`` (answerable
    questions), ``abstention_ok``, ``wrong_abstention``, ``JSON valid`` (NaN if not asked for JSON),
    ``cites`` (answers citing a source), ``sources ok`` (of those, citing retrieved *and* supporting
    documents), ``traceable`` (answer found in a supporting chunk, :func:`helpers.rag.attribute_answer`),
    mean tokens, per-question latency p50/p95 (batched, amortized) and ``build_seconds``."""
    row = summarize(scores).iloc[0]
    out = {k: row[k] for k in ["accuracy", "exact", "f1", "abstention_ok", "wrong_abstention"]}
    out["JSON valid"] = row["json_valid"] if "json_valid" in scores else math.nan
    cites = outcome_of(scores, "cites")
    out["cites"] = outcome_rate(scores, "cites")
    if cites is None:
        out["sources ok"] = out["traceable"] = math.nan
    else:  # "sources ok" is of the citing answers (no citing answer: 0, and its citation columns may be empty)
        out["sources ok"] = outcome_of(scores, "correct source cited").sum() / cites.sum() if cites.sum() else 0.0
        out["traceable"] = outcome_rate(scores, "traceable")
    out.update({"prompt_tokens": scores["prompt_tokens"].mean(), "completion_tokens": scores["completion_tokens"].mean(),
                "seconds": scores["seconds"].mean(), "latency_p50": scores["seconds"].quantile(0.5), "latency_p95": scores["seconds"].quantile(0.95),
                "build_seconds": build_seconds, "n": len(scores)})
    return pd.Series(out)


def compare(scores: pd.DataFrame, build_seconds: Mapping[str, float] | None = None) -> pd.DataFrame:
    """:func:`system_metrics` per system of a score table (column ``system``), in order of appearance."""
    build_seconds = build_seconds or {}
    return pd.DataFrame({name: system_metrics(rows.dropna(axis=1, how="all").infer_objects(), build_seconds=build_seconds.get(name, 0.0))
                         for name, rows in scores.groupby("system", sort=False)}).T.rename_axis("system")


def outcomes(scores: pd.DataFrame, system: str, metric: str) -> pd.Series:
    """One system's per-question outcome (bool, indexed by question id) behind a rate of :data:`OUTCOMES`.

    Raises:
        KeyError: an unknown metric, or a system that did not measure it (e.g. JSON for a text system).
    """
    if metric not in OUTCOMES:
        raise KeyError(f"unknown metric {metric!r}; one of {sorted(OUTCOMES)}")
    rows = scores[scores["system"] == system]
    hits = outcome_of(rows, metric)
    if hits is None:
        raise KeyError(f"{system!r} did not measure {metric!r}")
    return hits.set_axis(rows.loc[hits.index, "id"])


def intervals(scores: pd.DataFrame, metrics: Sequence[str] = ("accuracy",)) -> pd.DataFrame:
    """Every system's rates with n and 95% Wilson intervals: one row per (system, metric) with
    ``value``, ``k``, ``n``, ``low``, ``high``; metrics a system did not measure are left out."""
    rows = {}
    for system in scores["system"].unique():
        for metric in metrics:
            try:
                r = rate(outcomes(scores, system, metric).tolist())
            except KeyError:
                continue
            rows[(system, metric)] = {"value": r.value, "k": r.k, "n": r.n, "low": r.low, "high": r.high}
    return pd.DataFrame(rows).T.rename_axis(["system", "metric"])


def paired(scores: pd.DataFrame, a: str, b: str, metric: str = "accuracy") -> PairedTest:
    """:func:`helpers.uncertainty.paired_test` of systems ``a`` and ``b`` on the questions both answered."""
    x, y = outcomes(scores, a, metric), outcomes(scores, b, metric)
    common = x.index.intersection(y.index)
    return paired_test(x[common].tolist(), y[common].tolist())


def paired_sentence(test: PairedTest, a: str, b: str, what: str, detect: float = 0.10) -> str:
    """"what: a x% vs b y%" with the paired test; when the test cannot separate them, says "not
    distinguishable" and about how many questions would detect a ``detect``-sized difference."""
    said = f"{what}: {a} {test.a.value:.0%} vs {b} {test.b.value:.0%}, {test}"
    if test.distinguishable:
        return said
    discordant = (test.only_a + test.only_b) / test.n if test.n else 0.0
    return (f"{said}: not distinguishable; about {questions_needed(detect, discordant)} questions would detect a "
            f"{detect * 100:.0f}-point difference")
