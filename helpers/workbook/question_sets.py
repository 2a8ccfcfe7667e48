"""A team's own inputs: a folder of documents and a questions file (``llm-workbook compare``, notebook 06).

The questions file is CSV or JSONL with a ``question`` column (required), ``answer`` (a short gold answer;
the word ``unanswerable`` marks a question the documents do not answer), ``aliases`` (other accepted
answers, ``|``-separated), ``source`` (the file(s) holding the answer, relative to the folder,
``;``-separated), ``type`` (optional label, e.g. ``paraphrase``) and ``split`` (``dev`` or ``test``: tune
on the dev rows, report the test rows; ``compare --tune-on dev``). Every problem is an
:class:`InputError` whose message is one line that says what to fix.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from helpers.documents import Document, load_documents
from helpers.workbook.data import QUESTION_TYPES, Question

UNANSWERABLE = "unanswerable"


def same_question(text: str) -> str:
    """A question's wording with case and whitespace ignored: two rows that give the same are the same question."""
    return " ".join(text.lower().split())


class InputError(ValueError):
    """Bad input to the your-data tools; the message is one line that says what to fix."""


def read_documents(folder: str | Path) -> dict[str, Document]:
    """:func:`helpers.documents.load_documents` with its errors as :class:`InputError` (unreadable files
    are skipped with one warning naming each)."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError(f"The documents folder {folder} does not exist.")
    if not folder.is_dir():
        raise InputError(f"--docs must be a folder of .md, .txt or .pdf files; {folder} is a file.")
    try:
        return load_documents(folder)
    except (FileNotFoundError, ValueError) as why:
        raise InputError(str(why)) from None


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError(f"The questions file {path} does not exist." if not path.exists()
                         else f"{path} is a folder; --questions takes a .csv or .jsonl file.")
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as why:
        raise InputError(f"{path} is not UTF-8 (byte {why.start} cannot be read); save it as UTF-8 "
                         "(in Excel: 'CSV UTF-8') and try again.") from None
    if not raw.strip():
        raise InputError(f"The questions file {path} is empty; it needs a header line with a 'question' column.")
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for number, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as why:
                raise InputError(f"{path} line {number} is not valid JSON ({why.msg}); each line must be one "
                                 "object such as {\"question\": \"...\"}.") from None
            if not isinstance(row, dict):
                raise InputError(f"{path} line {number} is not a JSON object; each line must be one object "
                                 "such as {\"question\": \"...\"}.")
            rows.append({str(k).strip().lower(): "" if v is None else
                         "|".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in row.items()})
        return rows
    reader = csv.DictReader(io.StringIO(raw, newline=""))  # keeps line breaks inside quoted cells
    if not reader.fieldnames:
        raise InputError(f"{path} has no header line; the first line must name the columns (at least 'question').")
    return [{(k or "").strip().lower(): (v or "").strip() if isinstance(v, str) else "" for k, v in row.items()}
            for row in reader]


def _source_ids(docs: Mapping[str, Document], folder: Path | None) -> dict[str, str]:
    """Every name a ``source`` cell may use for a document -> its doc id: the relative path with and
    without suffix, and the bare file name when it is unique."""
    names: dict[str, str] = {}
    bare: dict[str, list[str]] = {}
    for doc_id, doc in docs.items():
        names[doc_id] = doc_id
        if doc.path is not None and folder is not None:
            try:
                names[Path(doc.path).resolve().relative_to(folder.resolve()).as_posix()] = doc_id
            except ValueError:
                pass
        if doc.path is not None:
            bare.setdefault(Path(doc.path).name, []).append(doc_id)
    for name, ids in bare.items():
        if len(ids) == 1:
            names.setdefault(name, ids[0])
    return names


def load_question_file(path: str | Path, docs: Mapping[str, Document] | None = None,
                       folder: str | Path | None = None) -> list[Question]:
    """Read a questions file (CSV or JSONL; columns as in the module docstring) into questions with ids
    ``q001``, ``q002``, ... in file order. Sources are checked against ``docs`` (read from ``folder``).

    A question without an answer gets ``answer=""``: it is answered but not scored until a person
    fills in its verdict. Duplicate questions are kept with one warning.

    Raises:
        InputError: a missing, empty or non-UTF-8 file, no ``question`` column, blank questions, an unknown
            ``type``, or a ``source`` that names no document in the folder (the message lists the nearest).
    """
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise InputError(f"{path} has a header but no questions.")
    columns = set().union(*(r.keys() for r in rows))
    if "question" not in columns:
        raise InputError(f"{path} has no 'question' column (found: {', '.join(sorted(c for c in columns if c)) or 'none'}); "
                         "name the column of questions 'question'.")
    line = 2 if path.suffix.lower() == ".csv" else 1
    blank = [str(i + line) for i, r in enumerate(rows) if not r.get("question", "").strip()]
    if blank:
        raise InputError(f"{path}: {len(blank)} blank question(s), on line(s) {', '.join(blank[:10])}"
                         f"{' ...' if len(blank) > 10 else ''}; fill them in or delete those lines.")
    seen: dict[str, int] = {}
    for i, r in enumerate(rows):
        seen.setdefault(same_question(r["question"]), i + line)
    duplicates = len(rows) - len(seen)
    if duplicates:
        warnings.warn(f"{path} repeats {duplicates} question(s); each is asked and counted once per line.",
                      UserWarning, stacklevel=2)
    names = _source_ids(docs, Path(folder) if folder else None) if docs is not None else {}
    questions = []
    for i, r in enumerate(rows):
        answer = r.get("answer", "").strip()
        kind = r.get("type", "").strip().lower()
        if answer.lower() == UNANSWERABLE:
            answer, kind = "", UNANSWERABLE
        if kind and kind not in QUESTION_TYPES:
            raise InputError(f"{path} line {i + line}: type {kind!r} is not one of {', '.join(QUESTION_TYPES)} "
                             "(or leave it empty).")
        sources = [s.strip() for s in r.get("source", "").split(";") if s.strip()]
        doc_ids = []
        for source in sources:
            if docs is not None and source not in names:
                near = difflib.get_close_matches(source, list(names), n=3, cutoff=0.4)
                hint = f"; nearest: {', '.join(near)}" if near else ""
                raise InputError(f"{path} line {i + line}: source {source!r} is not a document in the folder{hint}.")
            doc_ids.append(names.get(source, source))
        aliases = tuple(a.strip() for a in r.get("aliases", "").split("|") if a.strip())
        split = (r.get("split") or "").strip().lower()
        if split not in ("", "dev", "test"):
            raise InputError(f"{path} line {i + line}: split {split!r} is not dev or test (or leave it empty).")
        questions.append(Question(id=f"q{i + 1:03d}", question=r["question"].strip(), answer=answer,
                                  aliases=aliases, doc_ids=tuple(dict.fromkeys(doc_ids)),
                                  type=kind or "single-fact", split=split or "yours"))
    return questions


def graded(question: Question) -> bool:
    """True if the question can be scored automatically: it has a gold answer or is marked unanswerable."""
    return bool(question.answer) or not question.answerable


def read_shots(path: str | Path, questions: Sequence[Question] = ()) -> list[tuple[str, str]]:
    """Worked examples from a questions file (columns ``question`` and ``answer``), none of which may be one of
    the ``questions`` being scored (an example that is a test question would leak its answer).

    Raises:
        InputError: an unreadable file, no row with an answer, or an example that is a scored question.
    """
    examples = [(q.question, q.answer) for q in load_question_file(path) if q.answer]
    if not examples:
        raise InputError(f"{path} holds no worked example: each row needs a question and an answer.")
    scored = {same_question(q.question) for q in questions}
    leaked = [q for q, _ in examples if same_question(q) in scored]
    if leaked:
        raise InputError(f"{path} repeats {len(leaked)} question(s) being scored (first: {leaked[0]!r}); worked "
                         "examples must not be test questions.")
    return examples


def read_system_prompt(path: str | Path) -> str:
    """Your system prompt, from a UTF-8 text file (one clear sentence if it is missing or empty)."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as why:
        raise InputError(f"Cannot read the system prompt from {path}: {why}") from None
    if not text:
        raise InputError(f"{path} is empty: write the system prompt in it.")
    return text
