"""Choose the retrieval settings on your dev questions, report on your test questions (``compare --tune-on dev``).

A questions file with a ``split`` column (``dev`` or ``test`` per row) lets ``compare`` choose what it would
otherwise take as given, without looking at the questions it reports:

1. the retrieval method (dense, bm25, hybrid) with the best MRR@10 on the dev questions that name a
   ``source`` (dense, the workbook's default, when none does);
2. then ``k`` (1, 3 or 5 chunks) with the most correct RAG answers on the graded dev questions (ties: the
   smaller k, the shorter prompt).

The comparison then runs on the test rows only, and the report says what was chosen on how many dev
questions. Choosing on the reported questions would make any setting look better than it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from helpers.evaluation import mrr_at_k
from helpers.workbook.data import Question
from helpers.workbook.folder_index import index_documents
from helpers.workbook.question_sets import (
    InputError,
    graded,
    load_question_file,
    read_documents,
)

METHODS: tuple[str, ...] = ("dense", "bm25", "hybrid")
KS: tuple[int, ...] = (1, 3, 5)


@dataclass
class Tuning:
    """What was chosen on the dev questions, and the measurements it was chosen by."""

    method: str
    k: int
    dev_questions: int
    mrr: dict[str, float] = field(default_factory=dict)
    accuracy: dict[int, float] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """For ``summary.json``'s setup."""
        return {"on": "dev", "dev questions": self.dev_questions, "method": self.method, "k": self.k,
                "MRR@10 by method": self.mrr, "dev accuracy by k": {str(k): v for k, v in self.accuracy.items()}}


def split_questions(questions: Sequence[Question]) -> tuple[list[Question], list[Question]]:
    """The dev and the test rows of a questions file.

    Raises:
        InputError: the file has no ``split`` column, or no dev or no test rows.
    """
    dev = [q for q in questions if q.split == "dev"]
    test = [q for q in questions if q.split == "test"]
    if not dev or not test:
        raise InputError("--tune-on dev needs a 'split' column with both dev and test rows (found "
                         f"{len(dev)} dev, {len(test)} test): tune on the dev rows, report on the test rows.")
    return dev, test


def tune_on_dev(docs_dir: str | Path, questions_file: str | Path, *, llm: Any = None, embedder: Any = None,
                progress: bool = True) -> Tuning:
    """Choose the method and ``k`` on the dev rows of ``questions_file`` (see the module docstring).

    Raises:
        InputError: bad documents or questions, or no dev/test split.
    """
    from helpers.runtime.models import load_llm
    from helpers.systems import build_system, evaluate_systems

    docs = read_documents(docs_dir)
    dev, _ = split_questions(load_question_file(questions_file, docs, docs_dir))
    sourced = [q for q in dev if q.doc_ids]
    mrr: dict[str, float] = {}
    retrievers = {}
    for method in METHODS if sourced else ("dense",):
        retrievers[method] = index_documents(docs, method=method, llm=llm, embedder=embedder, progress=progress)
        ranked = retrievers[method].search_documents_many([q.question for q in sourced], 10)
        mrr[method] = float(np.mean([mrr_at_k(ids, q.doc_ids, 10) for ids, q in zip(ranked, sourced)])) if sourced else 0.0
    method = max(mrr, key=lambda m: (mrr[m], m == "dense"))  # ties: the default
    scored = [q for q in dev if graded(q) and q.answerable]
    accuracy: dict[int, float] = {}
    if scored:
        base = llm or load_llm()
        for k in KS:
            system = build_system("rag", llm=base, retriever=retrievers[method], k=k, label=f"rag k={k}")
            rows = evaluate_systems([system], scored)
            accuracy[k] = float(rows["correct"].astype(bool).mean())
    k = max(KS, key=lambda k: (accuracy.get(k, 0.0), -k)) if accuracy else 3
    return Tuning(method=method, k=k, dev_questions=len(dev), mrr=mrr, accuracy=accuracy)
