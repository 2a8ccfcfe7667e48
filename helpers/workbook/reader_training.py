"""The reader adapter: LoRA that teaches the model to *read* retrieved chunks (RAFT), shipped with the workbook.

The recipe (Zhang et al., 2024, "RAFT: Adapting Language Model to Domain Specific RAG"): train on a question
plus what the retriever really returns at question time, the chunk that holds the answer among distractors,
or, for a share of questions, distractors only; the target copies the answer verbatim from its chunk and names
the chunk (``{"answer": ..., "sources": [...]}``), or abstains. The questions (:func:`reader_questions`) are the
58 train questions plus 345 hand-written, paraphrased reading questions about facts no dev or test question
asks, so what the adapter learns is the skill, not the facts; notebook 05 checks that (closed-book control).
They replaced 545 templated questions, chosen on dev (notebook 04, "What else was tried").

Training takes 30-45 minutes on 2 CPU cores, so ``make adapters`` (``scripts/train_reader.py``) trains it
once and the repository ships it (:mod:`helpers.workbook.reader`: the adapter, its manifest and the check that it is
current). This module builds what it trains on and what it was compared with.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers.adapters import load_adapter
from helpers.finetune import SFTExample, task_a_examples
from helpers.runtime.config import REPO_ROOT
from helpers.workbook.data import load_kb, load_kb_questions, load_written_reading_questions
from helpers.workbook.reader import (
    READER_ABSTAIN_SHARE,
    READER_DIR,
    READER_K,
    READER_LORA,
    READER_METHOD,
    shipped_reader_manifest,
)

if TYPE_CHECKING:
    import pandas as pd

    from helpers.retrieval import Hit, Retriever
    from helpers.runtime.models import LLM
    from helpers.workbook.data import Question

#: Per-question dev outcomes of the shipped reader and of every candidate tried against it, written by
#: ``benchmarks/reader_candidates.py``; :func:`reader_candidates` compares them.
READER_CANDIDATES = REPO_ROOT / "benchmarks" / "reader_candidates.csv"
#: The shipped reader's name in that file.
SHIPPED_READER = f"shipped reader (k = {READER_K})"


def reader_candidates(path: str | Path = READER_CANDIDATES) -> pd.DataFrame:
    """What was tried against the shipped reader on the dev questions (:func:`compare_candidates`
    of the candidates file against :data:`SHIPPED_READER`), with the command that made each (``made_by``) and
    whether it should replace the shipped reader (``replaces shipped``) by the rule fixed for its kind before it
    ran: a *trained* candidate (``scripts/train_reader.py``) if it handles more dev questions right; a change of
    ``k`` at question time (``--k``) only if it handles distinguishably more right (notebook 03's rule for ``k``,
    which the other systems share). Plain RAG is a reference, never a candidate."""
    import pandas as pd

    rows = pd.read_csv(path)
    table = compare_candidates(rows, SHIPPED_READER).join(rows.groupby("system", sort=False)["made_by"].first())
    trained = table["made_by"].str.startswith("scripts/train_reader.py")
    at_question_time = table["made_by"].str.contains("--k ", regex=False)
    table["replaces shipped"] = ((trained & (table["difference"] > 0))
                                 | (at_question_time & (table["verdict"] == "better")))
    return table


def reader_questions() -> list[Question]:
    """What the reader trains on: the answerable and unanswerable train questions plus the written reading questions."""
    return load_kb_questions("train") + load_written_reading_questions()


def reader_retriever() -> Retriever:
    """The retriever the reader is trained with: the library default over the v1 knowledge base, as at question time."""
    from helpers.retrieval import build_retriever

    return build_retriever(load_kb(), method=READER_METHOD)


def reader_examples(retriever: Retriever | None = None, *, abstain_share: float = READER_ABSTAIN_SHARE,
                    seed: int | None = None) -> list[SFTExample]:
    """RAFT examples (:func:`helpers.finetune.task_a_examples`) over :func:`reader_questions`."""
    return task_a_examples(reader_questions(), retriever or reader_retriever(), k=READER_K,
                           abstain_share=abstain_share, seed=seed)


def examples_hash(examples: Sequence[SFTExample]) -> str:
    """A short hash of the rendered training examples (messages, target, kind, question): what the reader
    was made from, recorded in its manifest and checked by the golden test."""
    payload = json.dumps([asdict(e) for e in examples], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def load_or_train_reader(retriever: Retriever | None = None, *, progress: bool = True) -> tuple[LLM, dict[str, Any]]:
    """The reader for the configured model: the shipped one when it fits and is current (no training), else
    trained now on :func:`reader_examples` (cached under ``<cache>/adapters/``, as notebook 04's adapters;
    the ``gpu`` profile's larger model takes this path). Returns the model and what was done: ``source``
    (``"shipped"``, ``"cache"`` or ``"trained now"``), ``seconds`` (training time, whoever spent it) and, for the
    shipped reader, its ``manifest``."""
    from helpers.runtime.adapter_cache import load_or_train_adapter
    from helpers.runtime.models import load_llm

    manifest = shipped_reader_manifest()
    if manifest is not None:  # checked once: load the adapter without checking it again
        return (load_adapter(READER_DIR, load_llm()),
                {"source": "shipped", "seconds": manifest["training"]["seconds"], "manifest": manifest})
    llm, run = load_or_train_adapter("reader", reader_examples(retriever), lora=READER_LORA, progress=progress)
    return llm, {"source": "cache" if run.loaded_from_cache else "trained now", "seconds": run.seconds, "run": run}


class OracleRetriever:
    """A perfect retriever for a control experiment: for each of ``questions`` it returns only the chunk of
    ``retriever``'s index that holds the gold answer (in a supporting document); for questions without one
    (unanswerable, or an answer spread over chunks) it falls back to ``retriever``'s hits."""

    def __init__(self, retriever: Retriever, questions: Sequence[Question]) -> None:
        from helpers.finetune import _support_chunks

        self.retriever = retriever
        self.gold = {q.question: _support_chunks(q, retriever)[:1] for q in questions if q.answerable}

    def search_many(self, questions: Sequence[str], k: int = 3) -> list[list[Hit]]:
        found = self.retriever.search_many(questions, k=k)
        return [self.gold.get(q) or hits for q, hits in zip(questions, found)]

    def search(self, question: str, k: int = 3) -> list[Hit]:
        return self.search_many([question], k=k)[0]


def compare_candidates(scores: pd.DataFrame, reference: str) -> pd.DataFrame:
    """Settings tried on dev, each against the ``reference`` setting (systems of ``scores``, same questions).

    One row per system, in order of appearance: ``handled right`` (a correct answer, or "I don't know" to an
    unanswerable question: what a user gets right), accuracy, wrong abstentions (answerable questions),
    right abstentions (unanswerable ones) and ``correct source cited`` where measured, each as "k/n (95% CI)";
    then the paired test of handled right against ``reference``: ``difference``, ``p`` (exact McNemar) and
    ``verdict`` (``"better"``/``"worse"`` only where the test separates them, else ``"not distinguishable"``).
    Which rule adopts a candidate is the caller's (e.g. :func:`reader_candidates`).

    Raises:
        KeyError: ``reference`` is not a system of ``scores``.
    """
    import pandas as pd

    from helpers.comparison import intervals
    from helpers.uncertainty import paired_test, rate

    handled = {name: rows.set_index("id")["correct"].astype(bool) for name, rows in scores.groupby("system", sort=False)}
    if reference not in handled:
        raise KeyError(f"reference {reference!r} is not among the systems {list(handled)}")
    rates = intervals(scores, ["accuracy", "wrong_abstention", "abstention_ok", "correct source cited"])
    labels = {"accuracy": "accuracy", "wrong_abstention": "wrong abstentions", "abstention_ok": "right abstentions",
              "correct source cited": "correct source cited"}

    def shown(k: float, n: float, low: float, high: float) -> str:
        return f"{k:.0f}/{n:.0f} ({low:.0%}–{high:.0%})"

    ref = handled[reference]
    rows = []
    for name, outcome in handled.items():
        common = outcome.index.intersection(ref.index)
        test = paired_test(outcome[common].tolist(), ref[common].tolist())
        right = rate(outcome.tolist())
        row = {"system": name, "handled right": shown(right.k, right.n, right.low, right.high)}
        for metric, label in labels.items():
            if (name, metric) in rates.index:
                r = rates.loc[(name, metric)]
                row[label] = shown(r["k"], r["n"], r["low"], r["high"])
        verdict = "not distinguishable" if not test.distinguishable else ("better" if test.difference > 0 else "worse")
        rows.append({**row, "difference": test.difference, "p": test.p_value,
                     "verdict": "reference" if name == reference else verdict})
    return pd.DataFrame(rows).set_index("system")
