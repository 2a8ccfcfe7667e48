"""A *system* answers questions: prompt-only, RAG, LoRA, LoRA + RAG, or one you construct yourself::

    rag = build_system("rag", retriever=build_retriever(docs))
    rag.answer(["How long is the return window?"])[0].answer
    scores = evaluate_systems([build_system("prompt"), rag], questions)  # one row per question x system

Every system returns the same :class:`helpers.rag.Answer` records and is scored by the same
evaluation, so a comparison (notebook 05, the knowledge update) differs only in what the systems do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from helpers.adapters import load_adapter
from helpers.evaluation import contains_match, score_answer, score_generations
from helpers.generation import generate
from helpers.prompts import CLOSED_BOOK_INSTRUCTION, JSON_RAG_INSTRUCTION, check_questions
from helpers.rag import Answer, answer_questions, score_rag
from helpers.runtime.models import LLM, load_llm

if TYPE_CHECKING:
    from helpers.retrieval import Retriever
    from helpers.workbook.data import Question

Style = Literal["text", "json"]

#: The workbook's systems: name -> (retrieves, needs a fine-tuned model, default answer style).
SYSTEMS: dict[str, tuple[bool, bool, Style]] = {
    "prompt": (False, False, "text"),
    "rag": (True, False, "text"),
    "lora": (False, True, "text"),
    "lora+rag": (True, True, "json"),
}


@dataclass
class System:
    """A model (base, or carrying a LoRA adapter) plus how it is asked: closed-book or with ``k`` retrieved
    chunks; ``style`` ``"text"`` (``[doc-id]`` citations) or ``"json"`` (``{"answer", "sources"}``); the
    ``instruction`` line after the question (``None``: none; the RAG text prompt then just says "answer
    briefly", which measured best on dev in notebook 03); ``shots``: worked (prompt, answer) examples shown
    before every prompt (few-shot prompting); ``system``: a system message before every prompt."""

    name: str
    llm: LLM
    retriever: Retriever | None = None
    k: int = 3
    style: Style = "text"
    instruction: str | None = None
    max_new_tokens: int = 32
    shots: Sequence[tuple[str, str]] = ()
    system: str | None = None

    def answer(self, questions: Sequence[str], *, progress: bool = True) -> list[Answer]:
        """Answer every question (batched generation; one batched search when retrieving).

        Raises:
            ValueError: a question is empty or whitespace only.
            TypeError: ``questions`` is one string instead of a list.
        """
        questions = check_questions(questions, "System.answer")
        return answer_questions(self.llm, self.retriever, questions, k=self.k, instruction=self.instruction,
                                max_new_tokens=self.max_new_tokens, style=self.style, progress=progress,
                                desc=self.name, shots=self.shots, system=self.system)

    def score(self, questions: Sequence[Question], answers: Sequence[Answer] | None = None, *,
              documents: Mapping[str, str] | None = None, updated: bool = False) -> pd.DataFrame:
        """One scored row per question (:func:`helpers.rag.score_rag` when retrieving, else
        :func:`helpers.evaluation.score_generations`); answers them first unless ``answers`` is given."""
        answers = list(answers) if answers is not None else self.answer([q.question for q in questions])
        if self.retriever is not None:
            return score_rag(questions, answers, documents=documents, updated=updated, system=self.name)
        return score_generations(questions, [a.generation for a in answers], answers=[a.answer for a in answers],
                                 required_keys=None, updated=updated, system=self.name)


def build_system(
    name: str,
    *,
    llm: LLM | None = None,
    retriever: Retriever | None = None,
    adapter: str | Path | None = None,
    k: int = 3,
    style: Style | None = None,
    instruction: str | None | Literal["default"] = "default",
    max_new_tokens: int | None = None,
    label: str | None = None,
    shots: Sequence[tuple[str, str]] = (),
    system: str | None = None,
) -> System:
    """One of the workbook's :data:`SYSTEMS`: ``"prompt"``, ``"rag"``, ``"lora"`` or ``"lora+rag"``.

    Args:
        llm: the model (default: load the configured base model).
        retriever: required for ``"rag"`` and ``"lora+rag"``; refused for the closed-book ones.
        adapter: a saved LoRA adapter's folder to put on ``llm`` (or pass an ``llm`` carrying one); for
            ``"lora+rag"`` without either, the shipped reader adapter (:mod:`helpers.workbook.reader`).
        style: ``"text"`` or ``"json"`` (default: JSON for ``"lora+rag"``, text otherwise).
        instruction: the line after the question (default: abstain-or-answer-briefly closed-book,
            none for text RAG, the JSON format for JSON RAG).
        max_new_tokens: default 48 for JSON answers, 32 otherwise.
        label: the name in result tables (default: ``name``).
        shots: worked (prompt, answer) examples shown before each prompt.
        system: a system message before each prompt (default: the model's own).

    Raises:
        ValueError: an unknown name, a missing or superfluous retriever, or a lora system without an adapter.
    """
    if name not in SYSTEMS:
        raise ValueError(f"Unknown system {name!r}; choose one of {list(SYSTEMS)}, or construct System(...) yourself.")
    retrieves, tuned, default_style = SYSTEMS[name]
    if retrieves and retriever is None:
        raise ValueError(f"build_system({name!r}) needs retriever=build_retriever(docs): "
                         "a RAG system answers from retrieved chunks of your documents.")
    if not retrieves and retriever is not None:
        raise ValueError(f"The {name!r} system answers closed-book, so it takes no retriever; use 'rag' or "
                         "'lora+rag' to retrieve.")
    if adapter is not None:
        if not tuned:
            raise ValueError(f"The {name!r} system uses the base model; pass adapter= to 'lora' or 'lora+rag'.")
        llm = load_adapter(adapter, base=llm)
    elif name == "lora+rag" and llm is None:
        from helpers.workbook.reader import load_reader

        llm = load_reader()  # the shipped reader adapter (AdapterError says how to train one if it does not fit)
    elif tuned and (llm is None or not hasattr(llm.model, "peft_config")):
        raise ValueError(f"build_system({name!r}) needs a fine-tuned model: adapter=<folder of a saved adapter> "
                         "or llm=<a model carrying one> (see helpers.runtime.adapter_cache.load_or_train_adapter).")
    style = style or default_style
    if instruction == "default":
        instruction = (JSON_RAG_INSTRUCTION if style == "json" else None) if retrieves else CLOSED_BOOK_INSTRUCTION
    return System(name=label or name, llm=llm or load_llm(), retriever=retriever, k=k, style=style,
                  instruction=instruction, max_new_tokens=max_new_tokens or (48 if style == "json" else 32),
                  shots=tuple(shots), system=system)


def evaluate_systems(systems: Sequence[System], questions: Sequence[Question], *,
                     answers: Mapping[str, Sequence[Answer]] | None = None,
                     documents: Mapping[str, str] | None = None, updated: bool = False) -> pd.DataFrame:
    """Every system answers the same questions: the :meth:`System.score` tables concatenated (column
    ``system``; :func:`~helpers.comparison.compare` makes one row per system). ``answers``: already
    generated, by system name (only scored); ``documents``: ``doc_id -> text`` to verify quoted spans;
    ``updated``: score against the post-update answers. Names must differ (else ``ValueError``)."""
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"System names must differ to tell the rows apart, got {names}; pass label= to build_system.")
    answers = answers or {}
    return pd.concat([s.score(questions, answers.get(s.name), documents=documents, updated=updated) for s in systems],
                     ignore_index=True)


def evaluate_prompts(
    llm: LLM,
    questions: Sequence[Question],
    prompts: Sequence[Any],
    *,
    label: str,
    required_keys: Sequence[str] | None = None,
    extract: Callable[[str], str] | None = None,
    updated: bool = False,
    **generate_kwargs: Any,
) -> pd.DataFrame:
    """Ask with your own prompts instead of a system's: generate one answer per prompt (string or chat
    messages) and score it like a closed-book :class:`System` (notebook 01's prompt experiments). ``label`` names the technique (``system`` column); ``required_keys`` and
    ``updated`` are as in :func:`score_generations`; ``extract`` turns the raw output into the answer to
    score (e.g. ``json_field("answer")``; default: the raw text); ``generate_kwargs`` go to
    :func:`helpers.generation.generate` (``system``, ``max_new_tokens``, ``temperature``, ``stop``, ...)."""
    generations = generate(llm, list(prompts), desc=label, **generate_kwargs)
    answers = [extract(g.text) for g in generations] if extract is not None else None
    return score_generations(questions, generations, answers=answers, required_keys=required_keys,
                             updated=updated, system=label)


@dataclass
class KnowledgeUpdate:
    """What :func:`knowledge_update` measured: ``table``, per system, the shares of answers giving the new
    (v2) and old (v1) fact and of contexts holding each, before and after, plus ``n`` and ``update_seconds``;
    ``before``/``after`` (answers by system), ``change`` (what re-indexing did) and its ``seconds``."""

    table: pd.DataFrame
    before: dict[str, list[Answer]]
    after: dict[str, list[Answer]]
    change: dict[str, int]
    seconds: float
    questions: list[Question]

    def gives(self, system: str, when: str = "after", fact: str = "new") -> list[bool]:
        """Per question, whether ``system``'s answer ``when`` (``"before"``/``"after"``) gives the ``fact``
        (``"new"``: v2, ``"old"``: v1) — the outcomes behind the table's shares, for paired tests."""
        answers = (self.after if when == "after" else self.before)[system]
        return [score_answer(a.answer, q, updated=fact == "new").correct for q, a in zip(self.questions, answers)]


def _share(values: Sequence[bool]) -> float:
    return sum(values) / len(values) if values else math.nan


def knowledge_update(systems: Sequence[System], updates: Any, questions: Sequence[Question]) -> KnowledgeUpdate:
    """The v1 -> v2 experiment: answer, re-index the changed documents, answer again.

    ``updates`` (anything ``Retriever.add`` takes) is added once to each distinct index (views share
    one); ``questions`` are those whose answer changes. Closed-book systems are not asked twice: their
    answers cannot change until the model is retrained."""
    texts = [q.question for q in questions]
    before = {s.name: s.answer(texts) for s in systems}
    indexes = {id(s.retriever.store): s.retriever for s in systems if s.retriever is not None}
    start = time.perf_counter()
    changes = [r.add(updates) for r in indexes.values()]
    seconds = time.perf_counter() - start
    after = {s.name: s.answer(texts) if s.retriever is not None else before[s.name] for s in systems}
    change = {key: sum(c[key] for c in changes) for key in (changes[0] if changes else {})}
    result = KnowledgeUpdate(pd.DataFrame(), before, after, change, seconds, list(questions))
    rows = {}
    for s in systems:
        row = {}
        for when, answers in (("before", before[s.name]), ("after", after[s.name])):
            row[f"new {when}"], row[f"old {when}"] = (_share(result.gives(s.name, when, f)) for f in ("new", "old"))
            for fact, updated in (("new", True), ("old", False)):
                row[f"context {fact} {when}"] = (_share([any(contains_match(h.text, q.gold(updated)) for h in a.hits)
                                                         for q, a in zip(questions, answers)]) if s.retriever else math.nan)
        rows[s.name] = {**row, "n": len(questions), "update_seconds": seconds if s.retriever is not None else math.nan}
    result.table = pd.DataFrame(rows).T.rename_axis("system")
    return result
