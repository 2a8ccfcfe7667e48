"""Fine-tune on your documents, or retrieve from them? The ``lora`` and ``facts+rag`` arms of ``llm-workbook compare``.

::

    facts = training_facts(docs, questions)            # pairs drafted from the documents, never the questions
    fact_llm, run = load_or_train_adapter("facts", fact_examples(facts), lora=FACTS_LORA)  # cached by its data
    build_system("lora", llm=fact_llm)                  # closed-book: only what the adapter memorized
    build_system("lora+rag", llm=fact_llm, retriever=r, style="text", label="facts+rag")  # and with retrieval

The training pairs come from the documents themselves: a file of drafts a person reviewed (``--facts``, e.g.
written by ``llm-workbook draft-questions --endpoint URL`` with a capable model) or, without one, the
deterministic fill-in-the-blank pairs of :func:`helpers.workbook.question_drafts.extract_facts`. A pair whose
question is one of the evaluated questions is dropped (and counted), so the adapter never sees a test question.
The adapter is notebook 04's task B recipe (:data:`helpers.finetune.TASK_B_LORA`), asked closed-book with the
same instruction as the ``prompt`` arm, so ``lora`` vs ``prompt`` differs only in the weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import pandas as pd

from helpers.documents import Document
from helpers.finetune import TASK_B_LORA, SFTExample, task_b_examples
from helpers.prompts import CLOSED_BOOK_INSTRUCTION
from helpers.workbook.data import Question
from helpers.workbook.question_drafts import extract_facts
from helpers.workbook.question_sets import InputError, same_question

#: The arms this module trains for: the fact adapter closed-book, and the same adapter reading retrieved chunks.
FACT_ARMS: tuple[str, ...] = ("lora", "facts+rag")
#: The fact adapter's recipe: notebook 04's task B (closed-book facts), unchanged.
FACTS_LORA = TASK_B_LORA
#: Pairs extracted when no ``--facts`` file is given: with notebook 04's task B budget (60 steps of 4 examples
#: on the cpu profile) each pair is seen about four times, as task B's 55 facts are; fixed before any
#: measurement on the example (a first try with 200 pairs, 1.2 passes, ended at loss 2.5).
DEFAULT_FACTS = 60
_NOT_FOUND = "answer NOT in the passage"


#: A training pair this close to an evaluated question (difflib ratio of the normalized wordings) counts as
#: that question reworded, and is dropped with the exact repeats.
NEAR_QUESTION = 0.9


@dataclass
class TrainingFacts:
    """The question/answer pairs the fact adapter learns: ``table`` (the columns of ``draft-questions``),
    where they came from (``source``: ``"extracted"`` or the file), and how many rows were dropped because
    they repeat or closely reword an evaluated question (``dropped_questions``) or their answer is not in
    their passage (``dropped_unchecked``). ``recalled``: after training, how many of its own pairs the
    adapter answers (``None`` until measured): an adapter that did not learn its pairs cannot be judged
    on anything else."""

    table: pd.DataFrame
    source: str
    dropped_questions: int = 0
    dropped_unchecked: int = 0
    recalled: int | None = None
    training: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """What ``summary.json`` keeps about them."""
        return {"source": self.source, "pairs": len(self.table),
                "dropped (an evaluated question)": self.dropped_questions,
                "dropped (answer not in its passage)": self.dropped_unchecked,
                "own pairs answered after training": self.recalled, **self.training}


def _checked(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """``table`` with text columns, and without rows missing a question or an answer.

    Raises:
        InputError: no ``question`` or ``answer`` column (one line naming ``source``).
    """
    missing = [c for c in ("question", "answer") if c not in table.columns]
    if missing:
        raise InputError(f"{source} needs the columns question and answer (missing: {', '.join(missing)}).")
    table = table.fillna("").astype(str)
    return table[(table["question"].str.strip() != "") & (table["answer"].str.strip() != "")].reset_index(drop=True)


def read_facts(path: str | Path) -> pd.DataFrame:
    """A reviewed drafts file (CSV with ``question`` and ``answer`` columns; ``check`` optional).

    Raises:
        InputError: a missing or unreadable file, or missing columns (one line).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"The facts file {path} does not exist (write one with llm-workbook draft-questions).")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as why:
        raise InputError(f"{path} is not a readable UTF-8 CSV ({str(why).splitlines()[0]}).") from None
    return _checked(table, str(path))


def _near(question: str, asked: Sequence[str]) -> bool:
    """Is ``question`` (normalized) an evaluated question, or a close rewording of one?"""
    return question in asked or any(SequenceMatcher(None, question, a).ratio() >= NEAR_QUESTION for a in asked)


def training_facts(docs: Mapping[str, Document], questions: Sequence[Question],
                   facts: str | Path | pd.DataFrame | None = None, *, n: int = DEFAULT_FACTS,
                   folder: str | Path | None = None) -> TrainingFacts:
    """The pairs to train on: ``facts`` (a file or table) or, if ``None``, :func:`extract_facts` from ``docs``;
    without rows that repeat or closely reword an evaluated question (:data:`NEAR_QUESTION`) or whose
    ``check`` says the answer is not in the passage.

    Raises:
        InputError: missing columns, or no pair left to train on.
    """
    source = "extracted" if facts is None else str(facts) if isinstance(facts, (str, Path)) else "given table"
    if facts is None:
        table = extract_facts(docs, n, folder=folder)
    else:
        table = read_facts(facts) if isinstance(facts, (str, Path)) else _checked(facts, source)
    asked = sorted({same_question(q.question) for q in questions})
    leaked = table["question"].map(lambda q: _near(same_question(q), asked))
    unchecked = table["check"].str.startswith(_NOT_FOUND) & ~leaked if "check" in table.columns else leaked & False
    kept = table[~leaked & ~unchecked].reset_index(drop=True)
    if kept.empty:
        raise InputError(f"No question/answer pair left to train the fact adapter on ({source}: {len(table)} rows, "
                         f"{int(leaked.sum())} repeat an evaluated question, {int(unchecked.sum())} unchecked).")
    return TrainingFacts(kept, source, int(leaked.sum()), int(unchecked.sum()))


def fact_examples(facts: TrainingFacts) -> list[SFTExample]:
    """One closed-book training example per pair (:func:`helpers.finetune.task_b_examples`), asked exactly as
    the ``prompt`` and ``lora`` arms ask."""
    pairs = [Question(f"fact{i:04d}", q, a.strip(), (), (), "fact", "train")
             for i, (q, a) in enumerate(zip(facts.table["question"], facts.table["answer"]))]
    return task_b_examples(pairs, instruction=CLOSED_BOOK_INSTRUCTION)
