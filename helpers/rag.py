"""Answer questions from retrieved chunks, with citations that are parsed and verified.

question -> ``retriever.search`` -> numbered, id-labelled chunks in a prompt (context first,
question last: :func:`helpers.prompts.context_prompt`) -> ``generate`` -> :func:`parse_citations`
-> :func:`verify_citations` -> one scored row per question (:func:`score_rag`).

A citation is *verified* when the cited id was among the retrieved chunks (the model did not
invent it), and *correct* when it is a supporting document of the question; a quoted span in the
answer is verified when it really occurs in a cited document. Citation precision = correct
citations / all citations; citation recall = supporting documents cited / supporting documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from helpers.prompts import ABSTAIN, CITE, SHORT_ANSWER, closed_book_prompt, context_prompt

if TYPE_CHECKING:
    import pandas as pd

    from helpers.data import Question
    from helpers.generation import Generation
    from helpers.models import LLM
    from helpers.retrieval import Hit, Retriever

#: The instruction of the RAG prompt: short answer, cite the source id, abstain if not in the text.
RAG_INSTRUCTION = f"{SHORT_ANSWER} {CITE} {ABSTAIN}"

#: The JSON answer format of notebook 04 (task A) and 05: answer plus the chunk ids used, or abstain.
JSON_RAG_INSTRUCTION = ('Reply with JSON only: {"answer": "<short answer>", "sources": ["<id of each passage used>"]}. '
                        'If the text does not contain the answer, reply: {"answer": "I don\'t know", "sources": []}')
JSON_KEYS = ("answer", "sources")
ABSTAIN_ANSWER = "I don't know"

_BRACKET = re.compile(r"\[([^\[\]\n]{1,120})\]")
_QUOTE = re.compile(r"[\"“]([^\"“”]{12,300})[\"”]")


@dataclass
class RagAnswer:
    """One answered question: the raw output, the answer without citations, citations and hits."""

    question: str
    text: str
    answer: str
    citations: list[str]
    hits: list[Hit]
    generation: Generation
    prompt: str = ""
    style: Literal["text", "json"] = "text"


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


def rag_passages(hits: Sequence[Hit]) -> list[tuple[str, str]]:
    """``(doc_id, text)`` pairs for :func:`helpers.prompts.context_prompt`, best hit first."""
    return [(h.doc_id, h.text) for h in hits]


def _check_questions(questions: Any, caller: str) -> list[str]:
    """``questions`` as a list of non-blank strings (see :func:`helpers.retrieval.check_texts`)."""
    from helpers.retrieval import check_texts

    return check_texts(questions, noun="question", caller=caller, one_string_fix="pass [question]",
                       empty_fix="there is nothing to answer. Pass the question's text")


def rag_prompt(question: str, hits: Sequence[Hit], *, instruction: str = RAG_INSTRUCTION,
               delimit: bool = False) -> str:
    """The RAG prompt: the retrieved chunks, each labelled ``[doc-id]``, then question and instruction.

    Raises:
        ValueError: ``question`` is empty or whitespace only.
    """
    _check_questions([question], "rag_prompt")
    return context_prompt(question, rag_passages(hits), instruction=instruction, delimit=delimit)


def json_rag_prompt(question: str, hits: Sequence[Hit], *, instruction: str = JSON_RAG_INSTRUCTION) -> str:
    """The JSON-answer RAG prompt: chunks labelled by *chunk* id (``doc#n``), question, format.

    Raises:
        ValueError: ``question`` is empty or whitespace only.
    """
    _check_questions([question], "json_rag_prompt")
    return context_prompt(question, [(h.chunk_id, h.text) for h in hits], instruction=instruction)


def json_answer(answer: str, sources: Sequence[str] = ()) -> str:
    """The target output of the JSON format: ``{"answer": ..., "sources": [...]}`` on one line."""
    return json.dumps({"answer": answer, "sources": list(sources)}, ensure_ascii=False)


def parse_json_answer(text: str) -> dict[str, Any] | None:
    """The ``{"answer": str, "sources": [str, ...]}`` object in ``text``, or ``None`` if there is
    none or its fields have the wrong types."""
    from helpers.evaluation import parse_json_object

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
    """Ids cited in ``[...]`` brackets, in order of first appearance.

    ``[a, b]`` cites two ids; a chunk id ``doc#3`` counts as its document ``doc``; a number ``[2]``
    means the second passage of the prompt when ``hits`` are given; ``[doc-id]`` placeholders
    copied from the instruction are ignored.
    """
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
    """Post-hoc attribution: the retrieved documents whose chunk contains the answer's words.

    When a model cannot be trusted to cite (or was not asked to), the pipeline can still show
    where an answer came from. The answer's informative words are its normalized tokens minus
    filler words and minus the words of ``question`` (models often restate the question:
    "The bank that lent us money was Nordavik Bank"). Every hit whose text holds at least
    ``min_coverage`` of them is returned, best coverage first. An empty answer, an abstention or
    an answer found in no chunk is attributed to nothing, which is itself a signal (the model did
    not take its answer from the context).

    >>> from helpers.retrieval import Hit
    >>> attribute_answer("30 days", [Hit("a", "a#0", "Return within 30 days.", 1.0), Hit("b", "b#0", "No.", 0.5)])
    ['a']
    """
    from helpers.evaluation import is_abstention, normalize

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
    """Check an answer's citations against what was retrieved and what supports the answer.

    Args:
        text: the model's answer (its quoted spans are verified too).
        hits: the chunks that were in the prompt.
        supporting: the question's supporting document ids (empty for unanswerable questions).
        documents: ``doc_id -> full text``, to verify quoted spans (default: the hits' texts).
        cited: the cited document ids when they are already known (e.g. a JSON answer's
            ``sources``); default: parsed from the ``[...]`` brackets of ``text``.
    """
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


def answer_questions(
    llm: LLM,
    retriever: Retriever,
    questions: Sequence[str],
    *,
    k: int = 3,
    instruction: str = RAG_INSTRUCTION,
    max_new_tokens: int = 40,
    progress: bool = True,
    desc: str = "RAG answers",
    style: Literal["text", "json"] = "text",
) -> list[RagAnswer]:
    """Retrieve ``k`` chunks per question (one batched search), then generate all answers in batches.

    ``style="text"``: :func:`rag_prompt` with ``instruction`` (``None``: just "answer briefly");
    citations are ``[doc-id]`` brackets. ``style="json"``: :func:`json_rag_prompt` (``instruction``
    is ignored unless it is changed from the default); the answer is the ``"answer"`` field (the
    raw text when the output is not valid JSON, so accuracy is measured apart from format) and the
    citations are the ``"sources"`` chunk ids.

    Raises:
        ValueError: a question is empty or whitespace only (the message says which), or ``k < 1``.
        TypeError: ``questions`` is one string instead of a list.
    """
    from helpers.generation import generate

    questions = _check_questions(questions, "answer_questions")
    hits_all = retriever.search_many(questions, k=k)
    if style == "json":
        json_instruction = JSON_RAG_INSTRUCTION if instruction == RAG_INSTRUCTION else instruction
        prompts = [json_rag_prompt(q, hits, instruction=json_instruction) for q, hits in zip(questions, hits_all)]
    else:
        prompts = [rag_prompt(q, hits, instruction=instruction) for q, hits in zip(questions, hits_all)]
    gens = generate(llm, prompts, max_new_tokens=max_new_tokens, progress=progress, desc=desc)
    out = []
    for q, hits, g, p in zip(questions, hits_all, gens, prompts):
        if style == "json":
            obj = parse_json_answer(g.text)
            answer = obj["answer"] if obj is not None else g.text
            cited = [doc_id_of(s) for s in obj["sources"]] if obj is not None else []
            citations = list(dict.fromkeys(cited))
        else:
            answer, citations = strip_citations(g.text), parse_citations(g.text, hits)
        out.append(RagAnswer(question=q, text=g.text, answer=answer, citations=citations, hits=hits,
                             generation=g, prompt=p, style=style))
    return out


def closed_book_answers(llm: LLM, questions: Sequence[str], *, instruction: str = f"{SHORT_ANSWER} {ABSTAIN}",
                        max_new_tokens: int = 40, progress: bool = True) -> list[Generation]:
    """The same questions with no retrieved context (the baseline RAG must beat)."""
    from helpers.generation import generate

    prompts = [closed_book_prompt(q, instruction=instruction) for q in questions]
    return generate(llm, prompts, max_new_tokens=max_new_tokens, progress=progress, desc="Closed-book")


def score_rag(questions: Sequence[Question], answers: Sequence[RagAnswer], *,
              documents: Mapping[str, str] | None = None, updated: bool = False,
              system: str | None = "rag") -> pd.DataFrame:
    """:func:`helpers.evaluation.score_generations` rows plus retrieval and citation columns.

    Extra columns: ``retrieved_support`` (a supporting document was retrieved), ``n_cited``,
    ``invented`` (cited ids not retrieved), ``cit_precision``, ``cit_recall``,
    ``supporting_cited``, ``quotes``, ``quotes_verified``, ``cited``; and the post-hoc
    attribution of :func:`attribute_answer`: ``attributed`` (ids) and ``attributed_support``
    (an attributed document supports the question).
    """
    from helpers.evaluation import score_generations

    is_json = bool(answers) and all(a.style == "json" for a in answers)
    table = score_generations(questions, [a.generation for a in answers], answers=[a.answer for a in answers],
                              updated=updated, system=system, required_keys=JSON_KEYS if is_json else None)
    if is_json:
        table["json_valid"] = [parse_json_answer(a.text) is not None for a in answers]
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
    """Citation metrics over the answerable rows of a :func:`score_rag` table.

    ``cite_rate``: answers with at least one citation; ``precision``: mean citation precision of
    the answers that cite; ``recall``: mean citation recall over all answerable questions (an
    answer without citations has recall 0); ``invented_rate``: citations of ids not retrieved.
    """
    answerable = table[table["type"] != "unanswerable"]
    citing = answerable[answerable["n_cited"] > 0]
    n_cited = int(answerable["n_cited"].sum())
    return {
        "answers": len(answerable),
        "cite_rate": float((answerable["n_cited"] > 0).mean()),
        "precision": float(citing["cit_precision"].mean()) if len(citing) else float("nan"),
        "recall": float(answerable["cit_recall"].fillna(0).mean()),
        "invented_rate": float(answerable["invented"].sum() / n_cited) if n_cited else float("nan"),
        "quotes": int(answerable["quotes"].sum()),
        "quotes_verified": int(answerable["quotes_verified"].sum()),
    }
