"""Draft an evaluation set from your documents (``llm-workbook draft-questions``).

The configured model reads passages spread over the folder and proposes one question and a short answer
per passage; each draft records its source file and whether its answer is really in the passage. The
result is a CSV in the format ``llm-workbook compare`` reads, for a person to review: keep the good ones,
fix the rest, add unanswerable and paraphrased questions. A larger model (``WORKBOOK_LLM``) drafts better
questions than the 135M default.

:func:`extract_facts` is the deterministic fallback that needs no model: fill-in-the-blank pairs cut from the
documents' own sentences, the training data of the ``lora`` arm of ``llm-workbook compare`` when no capable
model drafted any (:mod:`helpers.workbook.fact_adapter`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import pandas as pd

from helpers.chunking import ChunkingConfig, chunk_text
from helpers.documents import Document
from helpers.evaluation import contains_match
from helpers.generation import generate
from helpers.prompts import DRAFT_PROMPT
from helpers.runtime.models import LLM, model_tokens
from helpers.workbook.question_sets import same_question

_LINES = re.compile(r"question[ \t]*:[ \t]*(?P<q>[^\n]+).*?answer[ \t]*:[ \t]*(?P<a>[^\n]+)", re.I | re.S)
MIN_WORDS = 40  # passages shorter than this rarely hold a fact worth a question


_MARKUP = ((re.compile(r"`([^`<]+?)\s*<[^>]*>`_+"), r"\1"),  # `text <url>`_ -> text
           (re.compile(r":[\w:]+:`~?([^`]+)`"), r"\1"),  # :func:`sorted` -> sorted
           (re.compile(r"``([^`]+)``"), r"\1"), (re.compile(r"[*`]+"), ""))
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
#: What a blank may hide: a dotted or underscored name, a call, a number, or a run of capitalized words.
_SPAN = re.compile(r"\b(?:[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+(?:\(\))?|[A-Za-z_]\w*_\w*(?:\(\))?|\w+\(\)"
                   r"|\d[\d,.]*%?|[A-Z][\w-]*[A-Za-z](?:\s+[A-Z][\w-]*[A-Za-z])*)")


def _plain(text: str) -> str:
    for pattern, keep in _MARKUP:
        text = pattern.sub(keep, text)
    return " ".join(text.split())


def extract_facts(docs: Mapping[str, Document], n: int = 200, *, folder: str | Path | None = None) -> pd.DataFrame:
    """Up to ``n`` fill-in-the-blank pairs cut from the documents' sentences, spread over the documents, with no
    model: the question is a sentence of 8-40 words with its last name-like span (a dotted name, a number, a
    capitalized phrase; not its first word) blanked, the answer is that span. Deterministic; the same columns
    as :func:`draft_questions`, every ``check`` true by construction. A capable model drafts better pairs."""
    pools = []
    for doc_id, doc in sorted(docs.items()):
        pairs, seen = [], set()
        for sentence in _SENTENCE.split(_plain(doc.text)):
            words = sentence.split()
            if not 8 <= len(words) <= 40 or not sentence.endswith(".") or ">>>" in sentence or "::" in sentence:
                continue
            spans = [m for m in _SPAN.finditer(sentence) if m.start() > len(words[0])]
            if not spans:
                continue
            span = spans[-1]
            answer = span.group().rstrip(".,")
            question = f"Fill in the blank ({doc.title}): {sentence[:span.start()]}___{sentence[span.start() + len(answer):]}"
            if len(answer) > 1 and same_question(question) not in seen:
                seen.add(same_question(question))
                pairs.append((doc_id, question, answer))
        pools.append(pairs)
    picked = []
    for i in range(max(map(len, pools), default=0)):  # round-robin: every document gets its share
        picked += [pool[i] for pool in pools if i < len(pool)]
    rows = [{"question": q, "answer": a, "aliases": "", "source": _source(docs[d], d, folder), "type": "extracted",
             "check": "answer found in the passage"} for d, q, a in picked[:n]]
    return pd.DataFrame(rows, columns=["question", "answer", "aliases", "source", "type", "check"])


def _source(doc: Document, doc_id: str, folder: str | Path | None) -> str:
    """The file a draft came from, relative to ``folder`` (its name if no folder is given; the id if no file)."""
    if doc.path is None:
        return doc_id
    return Path(doc.path).name if folder is None else Path(doc.path).resolve().relative_to(Path(folder).resolve()).as_posix()


def parse_draft(text: str) -> tuple[str, str] | None:
    """``(question, answer)`` from a ``Question: ... / Answer: ...`` reply, else ``None``."""
    match = _LINES.search(text)
    if not match:
        return None
    question, answer = match["q"].strip(), match["a"].strip().strip('"').rstrip(".")
    if not question or not answer or answer.lower().startswith("question") or answer == question:
        return None
    return question, answer


def pick_passages(docs: Mapping[str, Document], n: int, seed: int = 0, *, model: str | None = None) -> list[tuple[str, str]]:
    """``n`` passages ``(doc_id, text)`` spread over the documents (round-robin over a seeded shuffle of each
    document's chunks of at least :data:`MIN_WORDS` words, or its longest chunk if none is that long); fewer
    if the folder has fewer. With ``model``, chunks are counted in that model's tokens (the drafting model's)."""
    rng = random.Random(seed)
    pools = []
    config, tokens = ChunkingConfig(tokenizer=model), partial(model_tokens, model=model) if model else None
    for doc_id, doc in sorted(docs.items()):
        every = [c.text for c in chunk_text(doc.text, doc_id, config, doc.title, model_tokens=tokens)]
        chunks = [c for c in every if len(c.split()) >= MIN_WORDS] or sorted(every, key=len)[-1:]
        rng.shuffle(chunks)
        if chunks:
            pools.append((doc_id, chunks))
    picked: list[tuple[str, str]] = []
    while len(picked) < n and any(chunks for _, chunks in pools):
        for doc_id, chunks in pools:
            if chunks and len(picked) < n:
                picked.append((doc_id, chunks.pop()))
    return picked


def draft_questions(docs: Mapping[str, Document], llm: LLM, n: int = 50, *, folder: str | Path | None = None,
                    seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Proposed questions in the ``compare`` format: ``question``, ``answer``, ``aliases``, ``source`` (the
    file, relative to ``folder``), ``type`` and ``check`` (whether the answer appears in the passage).
    Unparseable replies (no ``Question:``/``Answer:`` lines, an empty answer or one that repeats the question)
    and repeated questions are dropped; ``table.attrs["passages"]`` says how many passages were asked."""
    passages = pick_passages(docs, n, seed, model=llm.name if isinstance(llm, LLM) else None)  # words at an endpoint
    replies = generate(llm, [DRAFT_PROMPT.format(text=text) for _, text in passages], max_new_tokens=64,
                       progress=progress, desc="drafting")
    rows, seen = [], set()
    for (doc_id, text), reply in zip(passages, replies):
        draft = parse_draft(reply.text)
        if draft is None or draft[0].lower() in seen:
            continue
        seen.add(draft[0].lower())
        source = _source(docs[doc_id], doc_id, folder)
        found = contains_match(text, [draft[1]])
        rows.append({"question": draft[0], "answer": draft[1], "aliases": "", "source": source, "type": "",
                     "check": "answer found in the passage" if found else "answer NOT in the passage: fix or delete"})
    table = pd.DataFrame(rows, columns=["question", "answer", "aliases", "source", "type", "check"])
    table.attrs["passages"] = len(passages)  # how many were asked; the rest of them gave no usable draft
    return table
