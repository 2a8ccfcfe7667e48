"""The retrieval defaults: how they are chosen, and that build_retriever() really uses them."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

from helpers.chunking import ChunkingConfig
from helpers.retrieval import Retriever, build_retriever
from helpers.workbook.retrieval_defaults import (
    BASELINE,
    CANDIDATES,
    Corpus,
    Pipeline,
    choose_default,
    compare_pipelines,
    plain_baseline,
    reranking_helps,
)


def _table(deltas: dict[str, dict[str, float]]) -> pd.DataFrame:
    rows = [{"corpus": c, "pipeline": BASELINE, "Δ nDCG@10 vs baseline": 0.0} for c in next(iter(deltas.values()))]
    rows += [{"corpus": c, "pipeline": p, "Δ nDCG@10 vs baseline": d} for p, per in deltas.items() for c, d in per.items()]
    return pd.DataFrame(rows)


def test_choose_default_takes_the_best_worst_corpus_not_the_best_mean():
    table = _table({"kb specialist": {"kb": 0.30, "faq": -0.05}, "all-rounder": {"kb": 0.10, "faq": 0.01},
                    "weak": {"kb": 0.0, "faq": -0.20}})
    assert choose_default(table) == "all-rounder"
    tie = _table({"a": {"kb": 0.10, "faq": 0.0}, "b": {"kb": 0.20, "faq": 0.0}})
    assert choose_default(tie) == "b", "ties go to the larger mean"


def test_reranking_helps_only_if_it_helps_on_every_corpus():
    col = "Δ MRR@10 from re-ranking"
    assert reranking_helps(pd.DataFrame({col: [0.05, 0.02, None]}))
    assert not reranking_helps(pd.DataFrame({col: [0.05, -0.01]}))
    assert not reranking_helps(pd.DataFrame({"other": [1.0]}))


def test_build_retriever_defaults_are_the_chosen_pipeline():
    """What benchmarks/retrieval_defaults.py chose (dense, markdown 400, no re-ranking) is what users get."""
    params = inspect.signature(build_retriever).parameters
    assert params["method"].default == "dense" and params["rerank"].default is None
    assert inspect.signature(Retriever).parameters["method"].default == "dense"
    assert ChunkingConfig() == ChunkingConfig("markdown", 400, 32)
    assert Pipeline("dense", ChunkingConfig("markdown", 400, 0)) in CANDIDATES


def test_plain_baseline_and_compare_pipelines_on_a_toy_corpus(embedder):
    docs = {"cats": "Cats purr and sleep most of the day.", "rust": "Rust has a borrow checker for memory safety.",
            "tea": "Green tea is brewed at about 80 degrees."}
    queries = ["Which animal purrs?", "How hot should water be for green tea?"]
    assert [r[0] for r in plain_baseline(docs, queries, embedder=embedder)] == ["cats", "tea"]
    corpus = Corpus("toy", docs, queries, [["cats"], ["tea"]], "check")
    table = compare_pipelines([corpus], {"default": Pipeline()}, embedder=embedder, progress=False)
    assert table["pipeline"].tolist() == [BASELINE, "default"]
    assert table.loc[1, "nDCG@10"] == pytest.approx(1.0) and table.loc[1, "Δ nDCG@10 vs baseline"] == 0.0
    assert table.attrs["tests"][("toy", "default")].n == 2
    with pytest.raises(ValueError, match="reranker="):
        compare_pipelines([corpus], {"x": Pipeline(rerank=True)}, embedder=embedder, progress=False)
    assert build_retriever(docs, embedder=embedder).reranker is None
