"""Read documents: the one reader of markdown, text and PDF files, single or a whole folder.

:func:`read_document` reads one file, :func:`load_documents` a folder (skipping unreadable files with
one warning), :func:`as_doc_triples` normalizes the retriever's inputs. The shipped knowledge base and
a team's own folder go through the same code, so both get the same ids, titles and checks.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOC_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".pdf")
#: A first line longer than this (in words) is body text, not a title: exports from databases, wikis and
#: ticket systems often write a whole document on one line.
MAX_TITLE_WORDS = 20
_ADORNMENT = re.compile(r"([=\-*~^#+\"'`:.])\1{2,}")


@dataclass(frozen=True)
class Document:
    """One document: front-matter fields plus the body text."""

    doc_id: str
    title: str
    category: str
    updated: str
    text: str
    path: Path | None = None
    meta: dict[str, str] = field(default_factory=dict)


class UnreadableFileError(ValueError):
    """A file cannot be read as a document; the message says why (shown to the user)."""


def checksum(text: str) -> str:
    """SHA-256 of a text (index metadata and embedding-cache keys)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_front_matter(raw: str) -> tuple[dict[str, str], str]:
    """``(meta, body)`` of a markdown text (``---``-delimited ``key: value`` front matter; ``{}`` if none)."""
    if not raw.startswith("---"):
        return {}, raw
    lines = raw.splitlines()
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration as err:
        raise ValueError("Front matter starts with '---' but is never closed.") from err
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        if line.strip():
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"Front matter line is not 'key: value': {line!r}")
            meta[key.strip()] = value.strip()
    return meta, "\n".join(lines[end + 1:]).strip() + "\n"


def read_pdf_text(path: str | Path) -> str:
    """Text of a PDF, page by page (``pypdf``); raises if it cannot be parsed. A scan (no text layer)
    gives ``""``: it needs OCR first (e.g. ``ocrmypdf``)."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages).strip()


def _read_text(path: Path) -> tuple[str, dict[str, str]]:
    """``(text, front matter)`` of a markdown/text/PDF file, or :class:`UnreadableFileError`."""
    if path.suffix.lower() == ".pdf":
        try:
            text = read_pdf_text(path)
        except Exception as err:  # noqa: BLE001 - pypdf raises many kinds; any of them means "unreadable"
            first_line = (str(err).strip().splitlines() or [""])[0][:80]
            raise UnreadableFileError(f"not a readable PDF, {type(err).__name__}: {first_line}".strip(" :")) from None
        if not text.strip():
            raise UnreadableFileError("PDF with no extractable text, probably a scan: run OCR on it first "
                                      "(e.g. `ocrmypdf in.pdf out.pdf`)")
        return text, {}
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise UnreadableFileError("binary file (it contains NUL bytes), not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UnreadableFileError(f"not UTF-8 text (invalid byte at offset {err.start}): re-save it as UTF-8") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")  # as Path.read_text() does
    try:
        meta, text = parse_front_matter(text)
    except ValueError as err:
        raise UnreadableFileError(f"bad front matter: {err}") from None
    if not text.strip():
        raise UnreadableFileError("empty")
    return rst_headings_to_markdown(text), meta


def rst_headings_to_markdown(text: str) -> str:
    """reStructuredText section titles (a line underlined, or over- and underlined, by ``===``, ``---``,
    ``***``, ...) rewritten as markdown ``#`` headings, levels in order of first appearance as in reST, so
    the structure-aware chunker splits reST documents at their sections too. Text with a markdown heading,
    or without reST titles, is returned unchanged."""
    lines = text.split("\n")
    if any(line.startswith("# ") for line in lines):
        return text
    levels: list[str] = []
    out: list[str] = []
    i = 0

    def is_rule(j: int, title: str) -> bool:
        return (0 <= j < len(lines) and bool(_ADORNMENT.fullmatch(lines[j].rstrip()))
                and len(lines[j].rstrip()) >= len(title.strip()))

    while i < len(lines):
        line = lines[i]
        title_ok = bool(line.strip()) and not line[0].isspace() and not _ADORNMENT.fullmatch(line.rstrip())
        if title_ok and is_rule(i + 1, line) and (i == 0 or not lines[i - 1].strip()):
            style = lines[i + 1].rstrip()[0]
            step = 2
        elif (_ADORNMENT.fullmatch(line.rstrip()) and i + 2 < len(lines) and lines[i + 1].strip()
              and is_rule(i + 2, lines[i + 1]) and lines[i + 2].rstrip()[0] == line.rstrip()[0]):
            style, line, step = "over" + line.rstrip()[0], lines[i + 1], 3
        else:
            out.append(line)
            i += 1
            continue
        if style not in levels:
            levels.append(style)
        out.append(f"{'#' * min(levels.index(style) + 1, 6)} {line.strip()}")
        i += step
    return "\n".join(out) if levels else text


def _is_title_line(line: str) -> bool:
    """A line that can serve as a title: has a letter or digit and is not reStructuredText markup (a
    ``.. label:``/directive or its indented body, a ``:field:`` line, or an underline of ``***``/``===``)."""
    if line.startswith(("   ", "\t")):
        return False
    line = line.strip()
    return bool(line) and any(c.isalnum() for c in line) and not line.startswith(("..", ":"))


def read_document(path: str | Path, doc_id: str | None = None) -> Document:
    """Read one ``.md``/``.txt``/``.pdf`` file. The id is the front-matter ``id``, else ``doc_id``, else
    the file name without suffix; the title is the front-matter ``title``, else the first line of text (not
    reStructuredText markup) if it has at most :data:`MAX_TITLE_WORDS` words, else the id.

    Raises:
        UnreadableFileError: a broken or scanned PDF, a binary or non-UTF-8 file, bad front matter or no text.
    """
    path = Path(path)
    text, meta = _read_text(path)
    doc_id = meta.get("id", doc_id or path.stem)
    first = next((ln.lstrip("# ").strip() for ln in text.splitlines() if _is_title_line(ln)), "")
    title = meta.get("title") or (first if 0 < len(first.split()) <= MAX_TITLE_WORDS else doc_id)
    return Document(doc_id=doc_id, title=title, category=meta.get("category", ""), updated=meta.get("updated", ""),
                    text=text, path=path, meta=meta)


def load_documents(folder: str | Path, *, recursive: bool = True) -> dict[str, Document]:
    """Read every ``.md``, ``.txt`` and ``.pdf`` file of a folder into ``{doc_id: Document}``; the id is
    the path relative to ``folder`` without suffix (``"sub/report"``) or a markdown front-matter ``id``.
    Unreadable files are skipped with one ``UserWarning`` naming each and why (see :func:`read_document`).

    Raises:
        FileNotFoundError: ``folder`` does not exist or holds no readable document.
        ValueError: two files have the same doc id (e.g. ``a.md`` and ``a.txt``).
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder.")
    paths = sorted(p for p in (root.rglob("*") if recursive else root.glob("*"))
                   if p.is_file() and p.suffix.lower() in DOC_SUFFIXES)
    docs: dict[str, Document] = {}
    skipped: list[str] = []
    for path in paths:
        try:
            doc = read_document(path, path.relative_to(root).with_suffix("").as_posix())
        except UnreadableFileError as why:
            skipped.append(f"{path.relative_to(root).as_posix()} ({why})")
            continue
        if doc.doc_id in docs:
            raise ValueError(f"{docs[doc.doc_id].path} and {path} both have the document id {doc.doc_id!r}; rename "
                             "one of them (or change the `id:` in its front matter).")
        docs[doc.doc_id] = doc
    if skipped:
        warnings.warn(f"Skipped {len(skipped)} file(s) in {root} that could not be read: {'; '.join(skipped)}. "
                      f"Loaded the other {len(docs)}; fix or remove the skipped files to include them.",
                      UserWarning, stacklevel=2)
    if not docs:
        why = f" (all {len(skipped)} were skipped, see the warning)" if skipped else ""
        raise FileNotFoundError(f"No readable .md, .txt or .pdf documents in {root}{why}.")
    return docs


def as_doc_triples(docs: Any) -> list[tuple[str, str, str]]:
    """The accepted document inputs as ``(doc_id, text, title)`` triples: a mapping ``doc_id -> text`` or
    ``-> Document``, records with ``doc_id`` or ``id`` and ``text``, or ``(doc_id, text[, title])`` tuples.

    Raises:
        TypeError: a record of an unknown kind, or a text that is not a string (``None`` included), naming the id.
        ValueError: the same document id appears more than once.
    """
    triples = []
    if isinstance(docs, Mapping):
        for key, value in docs.items():
            if isinstance(value, str):
                triples.append((str(key), value, ""))
            elif isinstance(getattr(value, "text", None), str):
                triples.append((str(key), value.text, getattr(value, "title", "") or ""))
            else:
                raise TypeError(f"Document {key!r} is a {type(value).__name__}, not its text: pass each document's "
                                "text as a string (or a Document).")
    else:
        for record in docs:
            if isinstance(record, tuple) and len(record) in (2, 3):
                title = record[2] if len(record) == 3 else ""
                triples.append((str(record[0]), record[1], title if isinstance(title, str) else ""))
            elif hasattr(record, "doc_id"):
                triples.append((record.doc_id, record.text, getattr(record, "title", "") or ""))
            elif hasattr(record, "id") and hasattr(record, "text"):
                triples.append((str(record.id), record.text, ""))  # a Passage: its title is the question
            else:
                raise TypeError(f"Cannot read a document from {type(record).__name__}; pass a mapping "
                                "doc_id -> text, Document records or (doc_id, text) pairs.")
    for doc_id, text, _ in triples:
        if not isinstance(text, str):
            raise TypeError(f"The text of document {doc_id!r} is a {type(text).__name__}, not a str; "
                            "pass each document's text as a string.")
    dupes = sorted(doc_id for doc_id, n in Counter(t[0] for t in triples).items() if n > 1)
    if dupes:
        raise ValueError(f"Duplicate document ids: {dupes[:5]}{' ...' if len(dupes) > 5 else ''} appear more "
                         "than once in the input. Give every document a unique id (to replace an indexed "
                         "document, pass only its new version to Retriever.add()).")
    return triples
