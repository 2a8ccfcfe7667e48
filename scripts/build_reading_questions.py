#!/usr/bin/env python3
"""Build the templated reading questions: hundreds of questions about knowledge-base facts no dev or test
question asks, written from the documents' own tables and highlighted (bold) phrases.

They teach a skill, reading, not facts: a reader adapter (``helpers/workbook/reader_training.py``) sees each question
with retrieved chunks (the one holding the answer among distractors, or only distractors) and learns to copy
the answer span verbatim and name its chunk. The questions are deliberately plain and templated. The reader
trained on them until 2026-12-03; on dev, one trained on hand-written, paraphrased questions instead
(``data/kb_reading_questions_written.jsonl``) answered more, so the shipped reader now trains on those and
these are a candidate (``scripts/train_reader.py --questions templated``; notebook 04, "What else was tried").

Two sources, both deterministic:

* **Table cells.** Every row of every markdown table: for a row keyed by its first cell (``| E101 | Zone
  short circuit | ...``) one question per other column ("For the code E101, what is the meaning?") and
  one reverse question for a unique value ("Which code has the meaning ...?"); for a property table
  (``| Item | Rill 250 |``) "What is the <item> of the Rill 250?". Cells longer than ``MAX_ANSWER_WORDS``
  are cut at `` (`` or `` — `` when the rest is short enough, else skipped.
* **Bold phrases** in prose: the sentence becomes a question by replacing the phrase with "what" (or
  "how many"/"how much" before a number), e.g. "It drives up to **12 zones** of ..." becomes "According to
  the Rill 250 Irrigation Controller — Datasheet, it drives up to how many of ...?".

**Separation** (checked again by ``tests/test_reader_training.py``): a question is dropped when its answer
matches (``contains_match`` either way) the gold answer of any dev or test question, old or new, so the
reader is never trained to produce a fact that evaluation asks about; the same holds for the facts the
knowledge update changes. Each question has ``split`` ``train`` and ``type`` ``reading``.

Usage (from the repository root)::

    python scripts/build_reading_questions.py --out data/kb_reading_questions.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from helpers.evaluation import contains_match, normalize  # noqa: E402
from helpers.workbook.data import load_kb, load_kb_questions  # noqa: E402

MAX_ANSWER_WORDS = 8
GENERIC_HEADERS = {"value", "details", "meaning", "item", ""}
SEED = 1234

KEYED = ("For the {key_name} {key}, what is the {col}?", "What is the {col} for {key}?",
         "{key}: what does the table give as the {col}?", "Which {col} is listed for {key}?")
PROPERTY = ("What is the {item} of the {entity}?", "What {item} does the {entity} have?",
            "According to its documentation, what is the {entity}'s {item}?")
REVERSE = "Which {key_name} has {col} {value}?"


def clean(cell: str) -> str:
    """A table cell or phrase without markdown emphasis, code ticks or links."""
    cell = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", cell)
    return re.sub(r"\s+", " ", cell.replace("**", "").replace("`", "")).strip()


def short_answer(cell: str) -> str | None:
    """The cell as an answer span (cut before `` (`` or `` — `` if that makes it short enough)."""
    if not cell or cell in {"—", "-", "none", "None"}:
        return None
    if len(cell.split()) <= MAX_ANSWER_WORDS:
        return cell
    for cut in (" (", " — ", "; "):
        head = cell.split(cut)[0].strip()
        if 0 < len(head.split()) <= MAX_ANSWER_WORDS:
            return head
    return None


def subject(title: str) -> str:
    """What a document is about, from its title ("Rill 250 Irrigation Controller — Datasheet" -> "Rill 250
    Irrigation Controller")."""
    return title.split(" — ")[0].strip()


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table of ``text`` as ``(header, rows)`` of cleaned cells."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines[:-1]):
        sep = lines[i + 1]
        if not (line.startswith("|") and sep.startswith("|") and set(sep) <= set("|-: ")):
            continue
        header = [clean(c) for c in line.strip().strip("|").split("|")]
        rows = []
        for row in lines[i + 2:]:
            if not row.startswith("|"):
                break
            cells = [clean(c) for c in row.strip().strip("|").split("|")]
            if len(cells) == len(header):
                rows.append(cells)
        found.append((header, rows))
    return found


def table_questions(doc) -> list[dict]:
    """Questions about the cells of ``doc``'s tables."""
    out = []
    rng = random.Random(f"{SEED}-{doc.doc_id}")
    for header, rows in tables(doc.text):
        if len(header) < 2:
            continue
        generic_key = header[0].lower() in GENERIC_HEADERS
        if generic_key:  # property table: | Item | Rill 250 | or | | Seed | Grow | Harvest |
            for row in rows:
                for j in range(1, len(header)):
                    answer = short_answer(row[j])
                    entity = header[j] if header[j].lower() not in GENERIC_HEADERS else subject(doc.title)
                    if answer and row[0]:
                        template = rng.choice(PROPERTY)
                        out.append(_record(template.format(item=row[0].lower() if row[0][:1].isupper()
                                                           and not row[0][1:2].isupper() else row[0],
                                                           entity=entity), answer, doc, "table"))
            continue
        key_name = header[0].lower()
        column_values = {j: [r[j] for r in rows] for j in range(1, len(header))}
        for row in rows:
            key = row[0]
            if not key or len(key.split()) > 10:
                continue
            for j in range(1, len(header)):
                answer = short_answer(row[j])
                if not answer:
                    continue
                col = header[j].lower() if header[j].lower() not in GENERIC_HEADERS else header[j].lower() or "value"
                template = rng.choice(KEYED)
                out.append(_record(template.format(key_name=key_name, key=key, col=col), answer, doc, "table"))
                key_answer = short_answer(key)
                if key_answer and column_values[j].count(row[j]) == 1 and len(row[j].split()) <= 8 and rng.random() < 0.4:
                    out.append(_record(REVERSE.format(key_name=key_name, col=col, value=row[j]), key_answer, doc,
                                       "table (reverse)"))
    return out


LOWER_FIRST = {"The", "It", "A", "An", "This", "These", "In", "On", "At", "For", "Every", "Each", "If", "When",
               "All", "Only", "From", "After", "Before", "Since", "Its", "Our", "We", "You", "Your", "They"}
COUNT = re.compile(r"^\d[\d,.]*\s+[a-z]")  # "240 people", "12 zones": asked with "how many"


def bold_questions(doc) -> list[dict]:
    """Questions about the bold phrases of ``doc``'s prose (one per phrase, its sentence made a question)."""
    out = []
    body = "\n".join(line for line in doc.text.splitlines()
                     if not line.startswith(("|", "#", "- **", "---")))
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", body):
        spans = re.findall(r"\*\*([^*]+)\*\*", sentence)
        if len(spans) != 1 or len(sentence.split()) > 40:
            continue
        answer = short_answer(clean(spans[0]))
        sentence = re.sub(r"^\s*[-*]\s+", "", sentence)
        if not answer or answer[-1] in ".:;" or sentence.startswith("**"):
            continue  # a label ("**Severity:**"), not a fact
        wh = "what"
        if answer[:1] in "€$" or answer.startswith(("EUR", "USD")):
            wh = "how much"
        elif COUNT.match(answer):
            wh = "how many"
        asked = clean(sentence.replace(f"**{spans[0]}**", wh)).rstrip(".!?:;")
        about = subject(doc.title)
        about = about if about.lower().startswith("the ") else f"the {about}"
        first = asked.split(" ", 1)[0]
        if first in LOWER_FIRST:  # "The probe ..." -> "..., the probe ...", but names keep their capital
            asked = asked[:1].lower() + asked[1:]
        question = f"According to {about} document, {asked}?"
        out.append(_record(question, answer, doc, "bold phrase"))
    return out


def _record(question: str, answer: str, doc, source: str) -> dict:
    return {"question": re.sub(r"\s+", " ", question).strip(), "answer": answer, "aliases": [],
            "doc_ids": [doc.doc_id], "type": "reading", "split": "train", "source": source}


def held_out_answers() -> list[list[str]]:
    """Every gold answer (old and new) of a dev or test question: facts the reader must never be trained to say."""
    golds = []
    for q in load_kb_questions(["dev", "test"]):
        if q.answerable:
            golds.append(q.gold())
        if q.changes_on_update:
            golds.append(q.gold(updated=True))
    return golds


def clashes(answer: str, golds: list[list[str]]) -> bool:
    """True if ``answer`` and some held-out gold contain one another (after normalization)."""
    return any(contains_match(answer, g) or contains_match(" ".join(g), [answer]) for g in golds)


def build() -> list[dict]:
    kb = load_kb()
    golds = held_out_answers()
    changed = {d for d in load_kb(updated=True) if load_kb(updated=True)[d].text != kb[d].text}
    records, seen = [], set()
    for doc in kb.values():
        for rec in table_questions(doc) + bold_questions(doc):
            key = normalize(rec["question"])
            if key in seen or clashes(rec["answer"], golds) or doc.doc_id in changed:
                continue
            if not contains_match(doc.text.replace("**", ""), [rec["answer"]]):
                continue  # the span must be findable in the text the reader sees
            seen.add(key)
            records.append(rec)
    for i, rec in enumerate(records, start=1):
        rec["id"] = f"kbr-{i:03d}"
    return [{"id": r["id"], **{k: v for k, v in r.items() if k != "id"}} for r in records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/kb_reading_questions.jsonl")
    args = parser.parse_args()
    records = build()
    Path(args.out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    by_source = {}
    for r in records:
        by_source[r["source"]] = by_source.get(r["source"], 0) + 1
    print(f"{len(records)} questions -> {args.out} ({by_source})")


if __name__ == "__main__":
    main()
