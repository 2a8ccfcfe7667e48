"""Which retrieval pipeline a user gets by default: chosen across corpora, checked against a plain baseline.

A team that brings its own documents gets the defaults of :func:`helpers.retrieval.build_retriever`, so
they are chosen to generalize, not to win on the workbook's own data:

1. **Tune** (:func:`tuning_corpora`, train + dev questions of the knowledge base and the Python FAQ):
   every candidate pipeline (:data:`CANDIDATES`) is compared with the *plain baseline* —
   sentence-transformers + FAISS over whole passages with the same embedder, five lines of library
   code (:func:`plain_baseline`) — and :func:`choose_default` takes the candidate whose *worst* corpus
   is best (maximin of the nDCG@10 difference to the baseline), so no corpus is sacrificed to another.
2. **Check** (:func:`check_corpora`, test splits plus the held-out SQLite/Git FAQ corpus that no choice
   ever saw): the default, the alternatives and the trained re-ranker side by side, each with its
   paired difference to the baseline (:func:`helpers.uncertainty.paired_difference`).

``benchmarks/retrieval_defaults.py`` runs both steps; notebook 03 shows the check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from helpers.chunking import ChunkingConfig
from helpers.documents import as_doc_triples
from helpers.embedding import embed, get_embedder
from helpers.evaluation import evaluate_retrievers, per_query_scores
from helpers.rerank import Reranker
from helpers.retrieval import Method, build_retriever, make_faiss_index
from helpers.uncertainty import paired_difference
from helpers.workbook.data import load_heldout_faq, load_kb, load_kb_questions, load_python_faq

BASELINE = "plain baseline"
DEFAULT = "default"
#: The per-query scores (of :func:`helpers.evaluation.per_query_scores`) the defaults are chosen on.
SCORES = ["nDCG@10", "MRR@10", "recall@5"]


@dataclass(frozen=True)
class Corpus:
    """Documents and questions with their relevant document ids; ``role``: ``"tuning"`` or ``"check"``."""

    name: str
    docs: Any
    queries: list[str]
    relevant: list[list[str]]
    role: str


@dataclass(frozen=True)
class Pipeline:
    """A retrieval pipeline to compare: first-stage method, chunking, and whether to re-rank."""

    method: Method = "dense"
    chunking: ChunkingConfig = ChunkingConfig()
    rerank: bool = False

    @property
    def name(self) -> str:
        c = self.chunking
        return f"{self.method}, {c.strategy} {c.size}" + (" + re-rank" if self.rerank else "")


#: The pipelines :func:`choose_default` chooses from (re-ranking is judged separately, on check corpora:
#: the trained re-ranker saw the train and dev questions).
CANDIDATES: tuple[Pipeline, ...] = tuple(Pipeline(method, ChunkingConfig("markdown", size, 0))
                                         for method in ("dense", "hybrid") for size in (128, 200, 300, 400, 600))


def _kb_corpus(split: Sequence[str], role: str, name: str) -> Corpus:
    questions = [q for q in load_kb_questions(list(split)) if q.answerable]
    return Corpus(name, load_kb(), [q.question for q in questions], [list(q.doc_ids) for q in questions], role)


def _faq_corpus(passages: Any, questions: Any, role: str, name: str) -> Corpus:
    return Corpus(name, passages, [q.question for q in questions], [[q.passage_id] for q in questions], role)


def tuning_corpora() -> list[Corpus]:
    """The train + dev questions of the knowledge base and of the Python FAQ: what defaults are chosen on."""
    return [_kb_corpus(["train", "dev"], "tuning", "KB train+dev"),
            _faq_corpus(*load_python_faq(["train", "dev"]), "tuning", "Python FAQ train+dev")]


def check_corpora() -> list[Corpus]:
    """The test questions of both tuning corpora, and the held-out SQLite/Git FAQ (all its questions)."""
    return [_kb_corpus(["test"], "check", "KB test"),
            _faq_corpus(*load_python_faq("test"), "check", "Python FAQ test"),
            _faq_corpus(*load_heldout_faq(), "check", "held-out FAQ (never tuned on)")]


def plain_baseline(docs: Any, queries: Sequence[str], k: int = 10, embedder: Any = None) -> list[list[str]]:
    """Document rankings from sentence-transformers + FAISS over *whole* documents (no chunking, no
    fusion, no re-ranking; the model truncates long texts at its window): the bar every default must meet."""
    model = get_embedder(embedder)
    triples = as_doc_triples(docs)
    vectors = embed(model, [text for _, text, _ in triples])
    index = make_faiss_index("flat", np.ascontiguousarray(vectors, dtype="float32"))
    _, ids = index.search(np.ascontiguousarray(embed(model, list(queries)), dtype="float32"), min(k, len(triples)))
    return [[triples[i][0] for i in row if i >= 0] for row in ids]


def compare_pipelines(corpora: Sequence[Corpus], pipelines: dict[str, Pipeline], *, reranker: Reranker | None = None,
                      embedder: Any = None, metric: str = "nDCG@10", progress: bool = True) -> pd.DataFrame:
    """Each pipeline on each corpus next to the plain baseline: mean nDCG@10, MRR@10, recall@5, and the
    paired difference in ``metric`` to the baseline (95% bootstrap CI, Wilcoxon p) and to the same
    pipeline without re-ranking (for ``+ re-rank`` pipelines). One row per corpus and pipeline;
    ``.attrs["tests"]`` keeps the :class:`~helpers.uncertainty.MeanDifference` behind each difference, keyed
    ``(corpus, pipeline)`` (vs the baseline) and ``(corpus, pipeline, "re-rank")`` (vs its first stage).

    Raises:
        ValueError: a pipeline re-ranks but no ``reranker`` was given.
    """
    if any(p.rerank for p in pipelines.values()) and reranker is None:
        raise ValueError("A pipeline asks for re-ranking: pass reranker=load_or_train_reranker() (or a Hub cross-encoder).")
    model = get_embedder(embedder)
    rows, tests = [], {}
    for corpus in tqdm(corpora, desc="corpora", disable=not progress):
        baseline = plain_baseline(corpus.docs, corpus.queries, embedder=model)
        scores = {BASELINE: per_query_scores(baseline, corpus.relevant)[SCORES]}
        built: dict[ChunkingConfig, Any] = {}
        for name, p in pipelines.items():
            if p.chunking not in built:
                built[p.chunking] = build_retriever(corpus.docs, method="hybrid", chunking=p.chunking, embedder=model,
                                                    cache=True)
            view = built[p.chunking].view(p.method, reranker=reranker if p.rerank else None, candidates=10)
            scores[name] = per_query_scores(view.search_documents_many(corpus.queries, 10), corpus.relevant)[SCORES]
        first_stage = {p: n for n, p in pipelines.items() if not p.rerank}
        for name, table in scores.items():
            vs_base = tests[(corpus.name, name)] = paired_difference(table[metric], scores[BASELINE][metric])
            row = {"corpus": corpus.name, "role": corpus.role, "pipeline": name, "n": len(table),
                   **table.mean().to_dict(), f"Δ {metric} vs baseline": vs_base.difference,
                   "CI low": vs_base.low, "CI high": vs_base.high, "p": vs_base.p_value}
            p = pipelines.get(name)
            if p is not None and p.rerank:
                plain = first_stage.get(Pipeline(p.method, p.chunking))
                if plain is not None:
                    vs_first = tests[(corpus.name, name, "re-rank")] = paired_difference(table["MRR@10"],
                                                                                         scores[plain]["MRR@10"])
                    row.update({"Δ MRR@10 from re-ranking": vs_first.difference, "re-rank CI low": vs_first.low,
                                "re-rank CI high": vs_first.high, "re-rank p": vs_first.p_value})
            rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["tests"] = tests
    return out


def choose_default(table: pd.DataFrame, metric: str = "nDCG@10") -> str:
    """The pipeline whose worst corpus is best: the largest minimum (over corpora) of its mean ``metric``
    minus the baseline's; ties go to the larger mean over corpora. ``table``: :func:`compare_pipelines`."""
    candidates = table[table["pipeline"] != BASELINE]
    column = f"Δ {metric} vs baseline"
    summary = candidates.groupby("pipeline")[column].agg(["min", "mean"])
    return str(summary.sort_values(["min", "mean"], ascending=False).index[0])


def reranking_helps(table: pd.DataFrame) -> bool:
    """True only if re-ranking raises MRR@10 over its first stage on *every* corpus of ``table``."""
    column = "Δ MRR@10 from re-ranking"
    return bool(column in table and table[column].notna().any() and (table[column].dropna() > 0).all())


def chunking_metrics(docs: Any, questions: Sequence[str], relevant: Sequence[Sequence[str]],
                     config: ChunkingConfig, *, method: Method = "bm25", embedder: Any = None) -> dict[str, float]:
    """:func:`evaluate_retrievers` columns for ``docs`` chunked with ``config``, plus the 95% bootstrap
    intervals of recall@5 and MRR@10 (``"recall@5 low"``, ...), ``n`` (questions), ``chunks`` (count) and
    ``mean tokens`` (words per chunk); ``"dense"`` embeds each configuration once (cached)."""
    if len(questions) != len(relevant):
        raise ValueError(f"{len(questions)} questions but {len(relevant)} sets of relevant ids.")
    from helpers.uncertainty import mean_interval

    retriever = build_retriever(docs, method=method, chunking=config, embedder=embedder, cache=True)
    table = evaluate_retrievers({"this": retriever}, questions, relevant)
    row = table.loc["this"]
    sizes = [len(c.text.split()) for c in retriever.chunks.values()]
    scores = per_query_scores(table.attrs["rankings"]["this"], [set(r) for r in relevant])
    intervals = {f"{m} {side}": v for m in ("recall@5", "MRR@10") for side, v in zip(("low", "high"),
                                                                                       mean_interval(scores[m]))}
    return {**{k: float(v) for k, v in row.items()}, **intervals, "n": float(len(questions)),
            "chunks": float(len(retriever)), "mean tokens": float(np.mean(sizes)) if sizes else 0.0}
