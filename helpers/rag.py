"""Answer questions from retrieved chunks, with citations that are parsed and verified.

question -> ``retriever.search`` -> id-labelled chunks in a prompt (:mod:`helpers.prompts`) -> ``generate``
-> :func:`parse_citations` -> :func:`verify_citations` -> one scored row per question (:func:`score_rag`).
A citation is *verified* when the cited id was retrieved (not invented) and *correct* when it is a
supporting document; a quoted span is verified when it really occurs in a cited document.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from helpers.evaluation import is_abstention, normalize, outcome_rate, parse_json_object, score_generations
from helpers.generation import Generation, generate, render_prompt
from helpers.prompts import (
    JSON_KEYS,
    JSON_RAG_INSTRUCTION,
    RAG_INSTRUCTION,
    check_questions,
    closed_book_prompt,
    few_shot_messages,
    json_rag_prompt,
    rag_prompt,
)

if TYPE_CHECKING:
    import pandas as pd

    from helpers.retrieval import Hit, Retriever
    from helpers.runtime.models import LLM
    from helpers.workbook.data import Question

_BRACKET = re.compile(r"\[([^\[\]\n]{1,120})\]")
_QUOTE = re.compile(r"[\"“]([^\"“”]{12,300})[\"”]")


@dataclass
class Answer:
    """One answered question, the same record for every system (prompt-only, RAG, LoRA, ...).

    ``text`` is the raw output; ``answer`` is what is scored: a JSON answer's ``"answer"`` field (the
    raw text when the output is not valid JSON, so accuracy is measured apart from format), else the
    text without ``[...]`` citations (closed-book: the raw text). ``citations``: cited document ids
    (JSON ``"sources"`` or brackets); ``hits``: the chunks in the prompt; ``prompt``: before the chat
    template; ``parsed``: the JSON answer (``None`` if invalid, or for text)."""

    question: str
    text: str
    answer: str
    citations: list[str]
    hits: list[Hit]
    generation: Generation
    prompt: str = ""
    style: Literal["text", "json"] = "text"
    parsed: dict[str, Any] | None = None
    trimmed: int = 0  # retrieved chunks left out so that the prompt fits the model's context window


@dataclass(frozen=True)
class CitationCheck:
    """What :func:`verify_citations` found for one answer."""

    cited: tuple[str, ...]
    retrieved_cited: tuple[str, ...]  # cited ids that were among the retrieved chunks
    invented: tuple[str, ...]  # cited ids that were not retrieved
    correct: tuple[str, ...]  # cited ids that are supporting documents
    supporting_cited: bool  # every supporting document is cited
    quotes: int = 0
    quotes_verified: int = 0
    precision: float | None = None  # correct / cited (None when nothing is cited)
    recall: float | None = None  # supporting documents cited / supporting documents
    notes: list[str] = field(default_factory=list)


def parse_json_answer(text: str) -> dict[str, Any] | None:
    """The ``{"answer": str, "sources": [str, ...]}`` object in ``text``, or ``None`` (absent or mistyped)."""
    obj = parse_json_object(text, JSON_KEYS)
    if obj is None or not isinstance(obj["answer"], str) or not isinstance(obj["sources"], list):
        return None
    if not all(isinstance(s, str) for s in obj["sources"]):
        return None
    return obj


def doc_id_of(ref: str) -> str:
    """The document id of a cited id: a chunk id ``doc#3`` counts as its document ``doc``.

    >>> doc_id_of("policy-returns#2"), doc_id_of("policy-returns")
    ('policy-returns', 'policy-returns')
    """
    return ref.split("#", 1)[0]


def parse_citations(text: str, hits: Sequence[Hit] = ()) -> list[str]:
    """Ids cited in ``[...]`` brackets, in order of first appearance: ``[a, b]`` cites two, ``doc#3``
    counts as ``doc``, ``[2]`` is the prompt's second passage when ``hits`` are given, and ``[doc-id]``
    placeholders copied from the instruction are ignored."""
    out: dict[str, None] = {}
    for match in _BRACKET.finditer(text):
        for part in re.split(r"[,;]|\band\b", match.group(1)):
            ref = part.strip().strip("'\"`").removeprefix("source:").strip()
            if not ref or ref.lower() in {"doc-id", "source", "id"}:
                continue
            if ref.isdigit() and hits:
                n = int(ref)
                if 1 <= n <= len(hits):
                    out.setdefault(hits[n - 1].doc_id, None)
                continue
            out.setdefault(doc_id_of(ref), None)
    return list(out)


def strip_citations(text: str) -> str:
    """The answer text with ``[...]`` citations removed."""
    return " ".join(_BRACKET.sub(" ", text).split())


def quoted_spans(text: str) -> list[str]:
    """Spans of at least 12 characters in double quotes (claims of verbatim quotation)."""
    return [m.group(1).strip() for m in _QUOTE.finditer(text)]


def _squash(text: str) -> str:
    return " ".join(re.sub(r"[*_`#]", "", text).lower().split())


_FILLER = frozenset("is was are were be been will would can could may of to in on at for from and or so it its "
                    "by with that this these those there you your i my we our they their he she his her "
                    "answer text above".split())


def attribute_answer(answer: str, hits: Sequence[Hit], *, question: str = "",
                     min_coverage: float = 0.6) -> list[str]:
    """Post-hoc attribution, for models that do not cite: the retrieved documents holding at least
    ``min_coverage`` of the answer's informative words (normalized tokens minus filler and the words
    of ``question``, which models often restate), best first. An empty answer, an abstention or one
    found in no chunk gets ``[]``: a sign the model did not take it from the context.

    >>> from helpers.retrieval import Hit
    >>> attribute_answer("30 days", [Hit("a", "a#0", "Return within 30 days.", 1.0), Hit("b", "b#0", "No.", 0.5)])
    ['a']
    """
    words = set(normalize(answer).split()) - _FILLER - set(normalize(question).split())
    if not words or is_abstention(answer):
        return []
    coverage: dict[str, float] = {}
    for h in hits:
        share = len(words & set(normalize(h.text).split())) / len(words)
        if share >= min_coverage:
            coverage[h.doc_id] = max(share, coverage.get(h.doc_id, 0.0))
    return sorted(coverage, key=lambda d: -coverage[d])


def verify_citations(text: str, hits: Sequence[Hit], supporting: Sequence[str],
                     documents: Mapping[str, str] | None = None, *,
                     cited: Sequence[str] | None = None) -> CitationCheck:
    """Check an answer's citations against the retrieved ``hits`` and the ``supporting`` document ids
    (empty when unanswerable); quoted spans are checked in ``documents`` (default: the hits' texts).
    ``cited``: the cited ids if known (a JSON answer's ``sources``), else parsed from ``text``'s brackets."""
    cited = list(dict.fromkeys(cited)) if cited is not None else parse_citations(text, hits)
    retrieved = {h.doc_id for h in hits}
    gold = set(supporting)
    correct = tuple(c for c in cited if c in gold)
    sources = dict(documents) if documents is not None else {}
    for h in hits:
        sources.setdefault(h.doc_id, "")
        if documents is None:
            sources[h.doc_id] += "\n" + h.text
    quotes = quoted_spans(text)
    verified = sum(any(_squash(q) in _squash(sources.get(c, "")) for c in cited) for q in quotes)
    return CitationCheck(
        cited=tuple(cited), retrieved_cited=tuple(c for c in cited if c in retrieved),
        invented=tuple(c for c in cited if c not in retrieved), correct=correct,
        supporting_cited=bool(gold) and gold <= set(cited), quotes=len(quotes), quotes_verified=verified,
        precision=len(correct) / len(cited) if cited else None,
        recall=len(gold & set(cited)) / len(gold) if gold else None,
    )


def to_answer(question: str, generation: Generation, hits: Sequence[Hit] = (), *, prompt: str = "",
              style: Literal["text", "json"] = "text", closed_book: bool = False) -> Answer:
    """Read one model output into an :class:`Answer`: the answer to score and its citations."""
    if style == "json":
        obj = parse_json_answer(generation.text)
        answer = obj["answer"] if obj is not None else generation.text
        citations = list(dict.fromkeys(doc_id_of(s) for s in obj["sources"])) if obj is not None else []
        return Answer(question, generation.text, answer, citations, list(hits), generation, prompt, style, obj)
    if closed_book:
        return Answer(question, generation.text, generation.text, [], [], generation, prompt, style)
    return Answer(question, generation.text, strip_citations(generation.text), parse_citations(generation.text, hits),
                  list(hits), generation, prompt, style)


def answer_questions(
    llm: LLM,
    retriever: Retriever | None,
    questions: Sequence[str],
    *,
    k: int = 3,
    instruction: str | None = RAG_INSTRUCTION,
    max_new_tokens: int = 40,
    progress: bool = True,
    desc: str = "RAG answers",
    style: Literal["text", "json"] = "text",
    shots: Sequence[tuple[str, str]] = (),
    system: str | None = None,
) -> list[Answer]:
    """Retrieve ``k`` chunks per question (one batched search), then generate all answers in batches; with
    ``retriever=None`` ask closed-book (:func:`~helpers.prompts.closed_book_prompt` with ``instruction``).

    ``style="text"``: :func:`~helpers.prompts.rag_prompt` with ``instruction`` (``None``: "answer
    briefly"), citations in ``[doc-id]`` brackets. ``"json"``: :func:`~helpers.prompts.json_rag_prompt`
    (``instruction`` used only if changed), answer and citations from ``"answer"`` and ``"sources"``.
    ``shots``: worked examples, (prompt, answer) pairs shown as earlier chat turns before each prompt;
    ``system``: a system message before every prompt (default: the model's own).

    Raises:
        ValueError: a question is empty or whitespace only (the message says which), or ``k < 1``.
        TypeError: ``questions`` is one string instead of a list.
    """
    questions = check_questions(questions, "answer_questions")
    if retriever is None:
        prompts = [closed_book_prompt(q, instruction=instruction) for q in questions]
        inputs = [few_shot_messages(p, shots, instruction=None) for p in prompts] if shots else prompts
        gens = generate(llm, inputs, system=system, max_new_tokens=max_new_tokens, progress=progress, desc=desc)
        return [to_answer(q, g, prompt=p, style=style, closed_book=True) for q, g, p in zip(questions, gens, prompts)]
    json_instruction = JSON_RAG_INSTRUCTION if instruction == RAG_INSTRUCTION else instruction

    def build(question: str, hits: Sequence[Hit]) -> str:
        if style == "json":
            return json_rag_prompt(question, hits, instruction=json_instruction)
        return rag_prompt(question, hits, instruction=instruction)

    hits_all = [distinct_hits(hits) for hits in retriever.search_many(questions, k=k)]
    fitted = [fit_context(llm, build, q, hits, shots, max_new_tokens, system) for q, hits in zip(questions, hits_all)]
    if trimmed := [n for _, n in fitted if n]:
        warnings.warn(f"{len(trimmed)} of {len(questions)} prompts would not fit the model's context window: "
                      f"{sum(trimmed)} lowest-ranked chunk(s) left out of them (use a smaller k or chunk size).",
                      UserWarning, stacklevel=2)
    hits_all = [hits for hits, _ in fitted]
    prompts = [build(q, hits) for q, hits in zip(questions, hits_all)]
    inputs = [few_shot_messages(p, shots, instruction=None) for p in prompts] if shots else prompts
    gens = generate(llm, inputs, system=system, max_new_tokens=max_new_tokens, progress=progress, desc=desc)
    answers = [to_answer(q, g, hits, prompt=p, style=style) for q, hits, g, p in zip(questions, hits_all, gens, prompts)]
    for answer, (_, n) in zip(answers, fitted):
        answer.trimmed = n
    return answers


def distinct_hits(hits: Sequence[Hit]) -> list[Hit]:
    """``hits`` without repeats: a chunk whose text (whitespace aside) equals a higher-ranked one's is dropped,
    so the same text never enters one prompt twice."""
    seen: set[str] = set()
    kept = []
    for hit in hits:
        key = " ".join(hit.text.split())
        if key not in seen:
            seen.add(key)
            kept.append(hit)
    return kept


def context_window(llm: LLM) -> int | None:
    """The model's context window in tokens (``None`` when the model does not say)."""
    config = getattr(getattr(llm, "model", None), "config", None)
    window = getattr(config, "max_position_embeddings", None)
    return window if isinstance(window, int) else None


def fit_context(llm: LLM, build: Callable[[str, Sequence[Hit]], str], question: str, hits: Sequence[Hit],
                shots: Sequence[tuple[str, str]], max_new_tokens: int,
                system: str | None = None) -> tuple[list[Hit], int]:
    """The most of ``hits`` (highest ranked first) whose prompt, with ``shots`` and room for ``max_new_tokens``,
    fits the model's context window, and how many were left out."""
    window = context_window(llm)
    kept = list(hits)
    if window is None:
        return kept, 0

    def tokens(prompt: str) -> int:
        text = render_prompt(llm, few_shot_messages(prompt, shots, instruction=None) if shots else prompt, system=system)
        return len(llm.tokenizer(text, add_special_tokens=False)["input_ids"])

    while kept and tokens(build(question, kept)) + max_new_tokens > window:
        kept.pop()
    return kept, len(hits) - len(kept)


def score_rag(questions: Sequence[Question], answers: Sequence[Answer], *,
              documents: Mapping[str, str] | None = None, updated: bool = False,
              system: str | None = "rag") -> pd.DataFrame:
    """:func:`~helpers.evaluation.score_generations` rows plus ``retrieved_support`` (a supporting document
    was retrieved), :func:`verify_citations`'s ``n_cited``, ``invented``, ``cit_precision``,
    ``cit_recall``, ``supporting_cited``, ``quotes``, ``quotes_verified``, ``cited``, and
    :func:`attribute_answer`'s ``attributed`` and ``attributed_support``."""
    is_json = bool(answers) and all(a.style == "json" for a in answers)
    table = score_generations(questions, [a.generation for a in answers], answers=[a.answer for a in answers],
                              updated=updated, system=system, required_keys=JSON_KEYS if is_json else None)
    if is_json:
        table["json_valid"] = [a.parsed is not None for a in answers]
    checks = [verify_citations(a.answer, a.hits, q.doc_ids, documents, cited=a.citations) if a.style == "json"
              else verify_citations(a.text, a.hits, q.doc_ids, documents) for q, a in zip(questions, answers)]
    table["retrieved_support"] = [bool(set(q.doc_ids) & {h.doc_id for h in a.hits})
                                  for q, a in zip(questions, answers)]
    table["n_cited"] = [len(c.cited) for c in checks]
    table["invented"] = [len(c.invented) for c in checks]
    table["cit_precision"] = [c.precision for c in checks]
    table["cit_recall"] = [c.recall for c in checks]
    table["supporting_cited"] = [c.supporting_cited for c in checks]
    table["quotes"] = [c.quotes for c in checks]
    table["quotes_verified"] = [c.quotes_verified for c in checks]
    table["cited"] = [", ".join(c.cited) for c in checks]
    attributed = [attribute_answer(a.answer, a.hits, question=a.question) for a in answers]
    table["attributed"] = [", ".join(ids) for ids in attributed]
    table["attributed_support"] = [bool(set(ids) & set(q.doc_ids)) for q, ids in zip(questions, attributed)]
    return table


def citation_summary(table: pd.DataFrame) -> dict[str, Any]:
    """Citation metrics over the answerable rows of a :func:`score_rag` table: ``cite_rate`` (answers
    citing anything), ``precision`` (mean over answers that cite), ``recall`` (mean over all; no
    citation counts 0) and ``invented_rate`` (share of citations naming ids not retrieved)."""
    answerable = table[table["type"] != "unanswerable"]
    citing = answerable[answerable["n_cited"] > 0]
    n_cited = int(answerable["n_cited"].sum())
    return {
        "answers": len(answerable),
        "cite_rate": outcome_rate(table, "cites"),  # the comparison's "cites", counted once (OUTCOMES)
        "precision": float(citing["cit_precision"].mean()) if len(citing) else float("nan"),
        "recall": float(answerable["cit_recall"].fillna(0).mean()),
        "invented_rate": float(answerable["invented"].sum() / n_cited) if n_cited else float("nan"),
        "quotes": int(answerable["quotes"].sum()),
        "quotes_verified": int(answerable["quotes_verified"].sum()),
    }
