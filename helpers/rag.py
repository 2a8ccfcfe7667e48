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

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from helpers.prompts import ABSTAIN, CITE, SHORT_ANSWER, closed_book_prompt, context_prompt

if TYPE_CHECKING:
    import pandas as pd

    from helpers.data import Question
    from helpers.generation import Generation
    from helpers.models import LLM
    from helpers.retrieval import Hit, Retriever

#: The instruction of the RAG prompt: short answer, cite the source id, abstain if not in the text.
RAG_INSTRUCTION = f"{SHORT_ANSWER} {CITE} {ABSTAIN}"

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


def rag_prompt(question: str, hits: Sequence[Hit], *, instruction: str = RAG_INSTRUCTION,
               delimit: bool = False) -> str:
    """The RAG prompt: the retrieved chunks, each labelled ``[doc-id]``, then question and instruction."""
    return context_prompt(question, rag_passages(hits), instruction=instruction, delimit=delimit)


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
            out.setdefault(ref.split("#", 1)[0], None)
    return list(out)


def strip_citations(text: str) -> str:
    """The answer text with ``[...]`` citations removed."""
    return " ".join(_BRACKET.sub(" ", text).split())


def quoted_spans(text: str) -> list[str]:
    """Spans of at least 12 characters in double quotes (claims of verbatim quotation)."""
    return [m.group(1).strip() for m in _QUOTE.finditer(text)]


def _squash(text: str) -> str:
    return " ".join(re.sub(r"[*_`#]", "", text).lower().split())


def verify_citations(text: str, hits: Sequence[Hit], supporting: Sequence[str],
                     documents: Mapping[str, str] | None = None) -> CitationCheck:
    """Check an answer's citations against what was retrieved and what supports the answer.

    Args:
        text: the model's raw answer.
        hits: the chunks that were in the prompt.
        supporting: the question's supporting document ids (empty for unanswerable questions).
        documents: ``doc_id -> full text``, to verify quoted spans (default: the hits' texts).
    """
    cited = parse_citations(text, hits)
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
) -> list[RagAnswer]:
    """Retrieve ``k`` chunks per question (one batched search), then generate all answers in batches."""
    from helpers.generation import generate

    hits_all = retriever.search_many(list(questions), k=k)
    prompts = [rag_prompt(q, hits, instruction=instruction) for q, hits in zip(questions, hits_all)]
    gens = generate(llm, prompts, max_new_tokens=max_new_tokens, progress=progress, desc=desc)
    return [RagAnswer(question=q, text=g.text, answer=strip_citations(g.text),
                      citations=parse_citations(g.text, hits), hits=hits, generation=g, prompt=p)
            for q, hits, g, p in zip(questions, hits_all, gens, prompts)]


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
    ``supporting_cited``, ``quotes``, ``quotes_verified``, ``cited``.
    """
    from helpers.evaluation import score_generations

    table = score_generations(questions, [a.generation for a in answers], answers=[a.answer for a in answers],
                              updated=updated, system=system)
    checks = [verify_citations(a.text, a.hits, q.doc_ids, documents) for q, a in zip(questions, answers)]
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
