"""Load the shipped data as typed records (``data/README.md``: provenance, licences, schemas).

:func:`load_kb`: the fictional company's knowledge base (``data/kb/*.md``); :func:`load_kb_questions`:
questions with gold answers, supporting documents, type and split; :func:`load_general_questions`:
questions for contrast; :func:`load_python_faq`: a retrieval benchmark from the Python 3.11 FAQ.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from helpers.chunking import markdown_sections
from helpers.documents import Document, load_documents
from helpers.runtime.config import get_settings

QuestionType = Literal["single-fact", "numeric", "paraphrase", "multi-doc", "unanswerable"]
Split = Literal["train", "dev", "test"]
QUESTION_TYPES: tuple[str, ...] = ("single-fact", "numeric", "paraphrase", "multi-doc", "unanswerable")
SPLITS: tuple[str, ...] = ("train", "dev", "test")


@dataclass(frozen=True)
class Question:
    """A knowledge-base question with its gold answer(s); ``answer_after_update`` is set only when the
    answer changes as the v2 policies in ``data/kb_updates/`` replace their v1."""

    id: str
    question: str
    answer: str
    aliases: tuple[str, ...]
    doc_ids: tuple[str, ...]
    type: str
    split: str
    answer_after_update: str | None = None
    aliases_after_update: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """False for questions the knowledge base cannot answer."""
        return self.type != "unanswerable"

    @property
    def changes_on_update(self) -> bool:
        """True if the gold answer differs after the knowledge update."""
        return self.answer_after_update is not None

    def gold(self, updated: bool = False) -> list[str]:
        """All accepted answers (answer first, then aliases), before or after the update."""
        if updated and self.answer_after_update is not None:
            return [self.answer_after_update, *self.aliases_after_update]
        return [self.answer, *self.aliases]


@dataclass(frozen=True)
class Passage:
    """A retrievable passage of the Python FAQ corpus."""

    id: str
    text: str
    source: str
    title: str
    kind: Literal["faq-answer", "distractor"]


@dataclass(frozen=True)
class FaqQuestion:
    """A Python FAQ question and the id of the passage that answers it."""

    id: str
    question: str
    passage_id: str
    source: str
    split: str


def load_kb(updated: bool = False, data_dir: str | Path | None = None) -> dict[str, Document]:
    """The knowledge base as ``{doc_id: Document}``, sorted by id; ``updated=True`` puts each document's
    v2 from ``kb_updates/`` in place of its v1. ``data_dir`` defaults to the configured data folder."""
    root = Path(data_dir) if data_dir else get_settings().data_dir
    docs = dict(sorted(load_documents(root / "kb", recursive=False).items()))
    if updated:
        for doc in load_kb_updates(root).values():
            docs[doc.doc_id] = doc
    return docs


def load_kb_updates(data_dir: str | Path | None = None) -> dict[str, Document]:
    """The v2 documents of the knowledge-update experiment, ``{doc_id: Document}``."""
    root = Path(data_dir) if data_dir else get_settings().data_dir
    return dict(sorted(load_documents(root / "kb_updates", recursive=False).items()))


#: Eight open-ended prompts with long answers: notebook 00 and its solutions time generation on them.
SPEED_PROMPTS = (
    "Explain in three sentences why the sky is blue.",
    "List five tips for writing clear emails.",
    "Describe how a refrigerator keeps food cold.",
    "What is recursion in programming? Give an example.",
    "Describe the water cycle step by step.",
    "Why do leaves change colour in autumn?",
    "Give three reasons to learn a second language.",
    "Explain what a database index is to a beginner.",
)

#: Row schemas of the JSONL files: key -> (kind, required). Kinds: "str", "list[str]", "str|None".
_QUESTION_SCHEMA = {"id": ("str", True), "question": ("str", True), "answer": ("str", True),
                    "type": ("str", True), "split": ("str", True), "aliases": ("list[str]", False),
                    "doc_ids": ("list[str]", False), "answer_after_update": ("str|None", False),
                    "aliases_after_update": ("list[str]|None", False)}
_PARAPHRASE_SCHEMA = {"id": ("str", True), "source_id": ("str", True), "question": ("str", True)}
_PASSAGE_SCHEMA = {k: ("str", True) for k in ("id", "text", "source", "title", "kind")}
_FAQ_QUESTION_SCHEMA = {k: ("str", True) for k in ("id", "question", "passage_id", "source", "split")}
_KIND_NAMES = {"str": "a string", "list[str]": "a list of strings", "str|None": "a string or null",
               "list[str]|None": "a list of strings or null"}


def _has_kind(value: object, kind: str) -> bool:
    if value is None and kind.endswith("|None"):
        return True
    if kind.startswith("list[str]"):
        return isinstance(value, list) and all(isinstance(x, str) for x in value)
    return isinstance(value, str)


def _read_jsonl_rows(path: Path, schema: dict[str, tuple[str, bool]] | None = None) -> list[tuple[int, dict]]:
    """``(line number, row)`` for each non-blank line of a JSONL file, checked against ``schema``
    (line numbers 1-based, counting blank lines, as an editor shows them).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: a line is not UTF-8, not JSON, not an object, misses a required key, has a value of
            the wrong type or repeats an earlier ``id``; the message names the file and the line.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; pass data_dir= the folder that holds it "
                                "(default: the configured data folder).")
    rows: list[tuple[int, dict]] = []
    seen: dict[str, int] = {}
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            where = f"{path}, line {n}"
            try:
                line = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValueError(f"{where}: not UTF-8 text; re-save the file with UTF-8 encoding.") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: invalid JSON ({err.msg}, column {err.colno}); every line must be "
                                 "one complete JSON object.") from None
            if not isinstance(row, dict):
                raise ValueError(f"{where}: expected a JSON object {{...}}, got a JSON {type(row).__name__}.")
            for key, (kind, required) in (schema or {}).items():
                if key not in row:
                    if required:
                        needed = ", ".join(k for k, (_, req) in schema.items() if req)
                        raise ValueError(f"{where}: missing required key {key!r} (every row needs: {needed}).")
                elif not _has_kind(row[key], kind):
                    raise ValueError(f"{where}: {key!r} must be {_KIND_NAMES[kind]}, got "
                                     f"{type(row[key]).__name__} {str(row[key])[:40]!r}.")
            if schema and "id" in schema:
                if row["id"] in seen:
                    raise ValueError(f"{where}: duplicate id {row['id']!r} (first used on line {seen[row['id']]}); "
                                     "ids must be unique.")
                seen[row["id"]] = n
            rows.append((n, row))
    return rows


def _read_jsonl(path: Path, schema: dict[str, tuple[str, bool]] | None = None) -> list[dict]:
    """The rows of a JSONL file (see :func:`_read_jsonl_rows` for the checks and errors)."""
    return [row for _, row in _read_jsonl_rows(path, schema)]


def _filter(records: Iterable, split: str | Iterable[str] | None, attr: str = "split") -> list:
    if split is None:
        return list(records)
    wanted = {split} if isinstance(split, str) else set(split)
    return [r for r in records if getattr(r, attr) in wanted]


def load_kb_questions(
    split: str | Iterable[str] | None = None,
    types: str | Iterable[str] | None = None,
    data_dir: str | Path | None = None,
) -> list[Question]:
    """Knowledge-base questions of some splits and types (default: all), e.g. ``load_kb_questions("test")``.

    Raises:
        ValueError: a malformed row of ``kb_questions.jsonl`` (the message names file and line).
    """
    root = Path(data_dir) if data_dir else get_settings().data_dir
    questions = _read_questions(root / "kb_questions.jsonl")
    return _filter(_filter(questions, split), types, attr="type")


def load_general_questions(
    types: str | Iterable[str] | None = None, data_dir: str | Path | None = None
) -> list[Question]:
    """Questions a small model *can* answer without documents, for contrast: ``general`` or ``reasoning``.

    Raises:
        ValueError: a malformed row of ``general_questions.jsonl`` (file and line in the message).
    """
    root = Path(data_dir) if data_dir else get_settings().data_dir
    return _filter(_read_questions(root / "general_questions.jsonl"), types, attr="type")


def _read_questions(path: Path, splits: tuple[str, ...] = SPLITS) -> list[Question]:
    """Question records of a questions file; ``ValueError`` names the file and line of a bad row."""
    questions = []
    for n, r in _read_jsonl_rows(path, _QUESTION_SCHEMA):
        if r["split"] not in splits:
            raise ValueError(f"{path}, line {n}: split {r['split']!r} is not one of {splits}.")
        if not r["question"].strip():
            raise ValueError(f"{path}, line {n}: the question text is empty.")
        questions.append(Question(
            id=r["id"], question=r["question"], answer=r["answer"], aliases=tuple(r.get("aliases", [])),
            doc_ids=tuple(r.get("doc_ids", [])), type=r["type"], split=r["split"],
            answer_after_update=r.get("answer_after_update"),
            aliases_after_update=tuple(r.get("aliases_after_update") or [])))
    return questions


def load_reading_questions(data_dir: str | Path | None = None) -> list[Question]:
    """Templated reading questions (``kb_reading_questions.jsonl``, type ``reading``, split ``train``): questions
    about table cells and bold phrases of the knowledge base whose answers no dev or test question asks
    (``scripts/build_reading_questions.py`` builds them). The reader's training data until 2026-12-03, now a
    candidate (``scripts/train_reader.py --questions templated``).

    Raises:
        ValueError: a malformed row (the message names file and line).
    """
    root = Path(data_dir) if data_dir else get_settings().data_dir
    return _read_questions(root / "kb_reading_questions.jsonl")


def load_written_reading_questions(data_dir: str | Path | None = None) -> list[Question]:
    """Hand-written, paraphrased reading questions (``kb_reading_questions_written.jsonl``, type ``reading``,
    split ``train``, 345 questions) about facts no dev or test question asks, from documents the knowledge
    update leaves alone: what the shipped reader trains on (:func:`helpers.workbook.reader_training.reader_questions`;
    ``data/README.md`` gives the dev measurement behind that choice).

    Raises:
        ValueError: a malformed row (the message names file and line).
    """
    root = Path(data_dir) if data_dir else get_settings().data_dir
    return _read_questions(root / "kb_reading_questions_written.jsonl")


def load_reader_check_questions(data_dir: str | Path | None = None) -> list[Question]:
    """The reader's independent check (``kb_reader_check.jsonl``, split ``check``): long, paraphrased and
    two-document questions written after the shipped set, never trained or tuned on; notebook 05 reports the
    head-to-head on them next to the test split.

    Raises:
        ValueError: a malformed row (the message names file and line).
    """
    root = Path(data_dir) if data_dir else get_settings().data_dir
    return _read_questions(root / "kb_reader_check.jsonl", splits=("check",))


def load_fact_paraphrases(data_dir: str | Path | None = None) -> list[Question]:
    """Train questions asked in other words (``kb_fact_paraphrases.jsonl``), with ``split="paraphrase"``.

    Raises:
        ValueError: a malformed row, or a source that is not a train question (file and line given).
    """
    from dataclasses import replace

    root = Path(data_dir) if data_dir else get_settings().data_dir
    source = {q.id: q for q in load_kb_questions(data_dir=root)}
    out = []
    path = root / "kb_fact_paraphrases.jsonl"
    for n, row in _read_jsonl_rows(path, _PARAPHRASE_SCHEMA):
        q = source.get(row["source_id"])
        if q is None or q.split != "train":
            raise ValueError(f"{path}, line {n}: source_id {row['source_id']!r} "
                             "is not a train question of kb_questions.jsonl.")
        out.append(replace(q, id=row["id"], question=row["question"], split="paraphrase"))
    return out


def load_python_faq(
    split: str | Iterable[str] | None = None, data_dir: str | Path | None = None
) -> tuple[list[Passage], list[FaqQuestion]]:
    """Load the Python FAQ retrieval corpus: all passages, and the questions of ``split``.

    Raises:
        ValueError: a malformed row of ``passages.jsonl`` or ``questions.jsonl`` (file and line given).
    """
    return _load_faq_corpus("python_faq", split, data_dir)


def load_heldout_faq(data_dir: str | Path | None = None) -> tuple[list[Passage], list[FaqQuestion]]:
    """Load the held-out corpus (SQLite and Git FAQs with distractors, ``data/heldout_faq``): never used
    to choose any setting, only to check that the retrieval defaults hold on documents they never saw."""
    return _load_faq_corpus("heldout_faq", None, data_dir)


def _load_faq_corpus(name: str, split: str | Iterable[str] | None,
                     data_dir: str | Path | None) -> tuple[list[Passage], list[FaqQuestion]]:
    root = (Path(data_dir) if data_dir else get_settings().data_dir) / name
    passages = [Passage(**{k: r[k] for k in _PASSAGE_SCHEMA})
                for r in _read_jsonl(root / "passages.jsonl", _PASSAGE_SCHEMA)]
    questions = [FaqQuestion(**{k: r[k] for k in _FAQ_QUESTION_SCHEMA})
                 for r in _read_jsonl(root / "questions.jsonl", _FAQ_QUESTION_SCHEMA)]
    return passages, _filter(questions, split)


def sample_questions(questions: Sequence[Question], n: int | None, seed: int | None = None) -> list[Question]:
    """A deterministic random subset of ``n`` questions in id order (all if ``n`` is None): caps costly
    experiments on the CPU profile (``profile.max_eval_questions``) with the same subset every run."""
    if n is None or n >= len(questions):
        return list(questions)
    rng = random.Random(get_settings().seed if seed is None else seed)
    return sorted(rng.sample(list(questions), n), key=lambda q: q.id)


def gold_section(question: Question, kb: dict[str, Document]) -> str:
    """The ``##`` section of the question's first supporting document holding a gold answer, else its
    first section (e.g. derived answers): an *oracle*, "RAG by hand" with a perfect retriever."""
    if not question.doc_ids:
        raise ValueError(f"{question.id} has no supporting document.")
    sections = markdown_sections(kb[question.doc_ids[0]].text)
    golds = [g.lower() for g in question.gold()]
    return next((s for s in sections if any(g in s.lower() for g in golds)), sections[0])


def gold_passage(question: Question, kb: dict[str, Document]) -> tuple[str, str]:
    """``(doc_id, section)``: :func:`gold_section` labelled with its document, ready for a context prompt."""
    section = gold_section(question, kb)  # ValueError when the question has no supporting document
    return question.doc_ids[0], section
