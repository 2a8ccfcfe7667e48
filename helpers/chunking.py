"""Split documents into chunks that keep their document id and position, so every hit can be traced.

Strategies (compared in notebook 02): ``"fixed"``, windows of ``size`` tokens overlapping by ``overlap``;
``"sentence"``, paragraphs (or sentences, where a paragraph is too long) packed up to ``size`` tokens;
``"markdown"``, split at ``#``-``###`` headings, then paragraphs, sentences, words, each chunk prefixed
with its heading path (``Title > Section``); ``"none"``, whole documents. A *token* is a whitespace-separated
word (about 1.3 word pieces), or, with ``tokenizer=<model>``, a token of the model that reads the chunks
(what ``llm-workbook compare`` uses on a team's folder, so text without spaces or structure stays within
the budget too). The default, markdown chunks of at most 400 words, keeps sections and short
passages whole; MiniLM reads the first ~200 words of a chunk (its 256-piece window), the LLM all of it.
It was chosen across corpora (:mod:`helpers.workbook.retrieval_defaults`): smaller chunks win on the knowledge
base but split short FAQ answers and fall below a whole-passage baseline there.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import chain, islice
from typing import Literal

Strategy = Literal["fixed", "sentence", "markdown", "none"]
STRATEGIES: tuple[str, ...] = ("fixed", "sentence", "markdown", "none")

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9*])")
_HEADING = re.compile(r"^(#{1,3})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
#: A "heading" line longer than this is body text (a one-line document that starts with "# ").
MAX_HEADING_CHARS = 1000


@dataclass(frozen=True)
class ChunkingConfig:
    """How to chunk: the strategy, the maximum size in tokens, and the overlap (``fixed`` only); ``tokenizer``
    says whose tokens count: ``None``, whitespace-separated words; a model name (packaged, local folder or Hub
    id), that model's tokens, the chunk's whole text as the model reads it."""

    strategy: Strategy = "markdown"
    size: int = 400
    overlap: int = 32
    tokenizer: str | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Unknown chunking strategy {self.strategy!r}; choose one of {STRATEGIES}.")
        if self.tokenizer is not None and not self.tokenizer.strip():
            raise ValueError("tokenizer must name a model (or be None to count words), not an empty string.")
        if self.size < 1 or not 0 <= self.overlap < self.size:
            raise ValueError(f"Need size >= 1 and 0 <= overlap < size, got size={self.size}, "
                             f"overlap={self.overlap}.")

    def to_dict(self) -> dict:
        """Plain dict (stored in an index's metadata); ``tokenizer`` only when one is set, so word-counted
        settings read as they always have (the shipped reader's manifest records them)."""
        return {k: v for k, v in asdict(self).items() if k != "tokenizer" or v is not None}


@dataclass(frozen=True)
class Hit:
    """One search result (:mod:`helpers.retrieval`): which chunk of which document, its text and score (higher is better)."""

    doc_id: str
    chunk_id: str
    text: str
    score: float
    position: int = 0
    section: str = ""


@dataclass(frozen=True)
class Chunk:
    """A piece of a document: ``chunk_id`` is ``"<doc_id>#<position>"``; ``text`` is what is embedded and
    shown to the model; ``start``/``end`` are the character offsets of its body in the document (without
    the heading prefix); ``section`` is the heading path (``markdown`` strategy) or ``""``."""

    doc_id: str
    chunk_id: str
    position: int
    text: str
    start: int
    end: int
    section: str = ""


#: Finds the counted units of ``text[lo:hi]`` as ``(start, end)`` character offsets.
Units = Callable[[str, int, int], Iterator[tuple[int, int]]]


def _words(text: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    return (m.span() for m in _WORD.finditer(text, lo, hi))


def count_tokens(text: str, units: Units = _words) -> int:
    """Number of whitespace-separated tokens in ``text`` (or of ``units``)."""
    return _count(text, 0, len(text), units)


# The helpers below work on ``(start, end)`` offsets into the document string, never copying its
# words, so a document of tens of MB is chunked in time and memory proportional to its size.
def _count(text: str, lo: int, hi: int, units: Units = _words) -> int:
    """Tokens in ``text[lo:hi]``, counted without slicing."""
    return sum(1 for _ in units(text, lo, hi))


def _fits(text: str, lo: int, hi: int, size: int, units: Units = _words) -> bool:
    """True if ``text[lo:hi]`` has at most ``size`` tokens; stops counting at ``size + 1``."""
    n = 0
    for _ in units(text, lo, hi):
        n += 1
        if n > size:
            return False
    return True


def _has_text(text: str, lo: int, hi: int) -> bool:
    """True if ``text[lo:hi]`` is not all whitespace."""
    return _WORD.search(text, lo, hi) is not None


def _word_windows(text: str, lo: int, hi: int, size: int, step: int, units: Units = _words) -> list[tuple[int, int]]:
    """Character spans of ``size``-token windows starting every ``step`` tokens in ``text[lo:hi]``, the
    last ending at the last token; streams, holding at most ``size / step + 1`` open windows."""
    spans: list[tuple[int, int]] = []
    open_windows: deque[tuple[int, int]] = deque()  # (index of first token, its start offset)
    i, last_closed, end = -1, -1, 0
    for i, (a, b) in enumerate(units(text, lo, hi)):
        if i % step == 0:
            open_windows.append((i, a))
        if i - open_windows[0][0] == size - 1:
            spans.append((open_windows.popleft()[1], b))
            last_closed = i
        end = b
    if i >= 0 and last_closed != i:  # the first window still open ends at the last token
        spans.append((open_windows[0][1], end))
    return spans


def fixed_size_spans(text: str, size: int, overlap: int, units: Units = _words) -> list[tuple[int, int]]:
    """Character spans of windows of ``size`` tokens, consecutive windows sharing ``overlap`` tokens."""
    return _word_windows(text, 0, len(text), size, size - overlap, units)


def _paragraph_spans(text: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    start = lo
    for m in _PARAGRAPH_BREAK.finditer(text, lo, hi):
        if _has_text(text, start, m.start()):
            yield start, m.start()
        start = m.end()
    if _has_text(text, start, hi):
        yield start, hi


def _sentence_spans(text: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    start = lo
    for m in _SENTENCE_END.finditer(text, lo, hi):
        if m.start() == lo:  # the look-behind saw text before `lo`: not a sentence end inside the span
            continue
        if _has_text(text, start, m.start()):
            yield start, m.start()
        start = m.end()
    if _has_text(text, start, hi):
        yield start, hi


def _strip(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _pack(text: str, pieces: Iterable[tuple[int, int]], size: int, units: Units = _words) -> list[tuple[int, int]]:
    """Greedily merge consecutive spans while the merged span stays within ``size`` tokens."""
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        if out and _fits(text, out[-1][0], b, size, units):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _split_recursive(text: str, lo: int, hi: int, size: int, level: int = 0,
                     units: Units = _words) -> list[tuple[int, int]]:
    """Split ``text[lo:hi]`` at paragraphs, then sentences, then tokens, until pieces fit ``size``;
    pieces are packed as they come, so memory grows with the chunks, not the sentences."""
    if _fits(text, lo, hi, size, units):
        return [(lo, hi)]
    splitters = (_paragraph_spans, _sentence_spans)
    if level >= len(splitters):
        return fixed_size_spans_abs(text, lo, hi, size, units)
    pieces = splitters[level](text, lo, hi)
    first = list(islice(pieces, 2))
    if len(first) <= 1:
        return _split_recursive(text, lo, hi, size, level + 1, units)
    fitted = (s for a, b in chain(first, pieces) for s in _split_recursive(text, a, b, size, level + 1, units))
    return _pack(text, fitted, size, units)


def fixed_size_spans_abs(text: str, lo: int, hi: int, size: int, units: Units = _words) -> list[tuple[int, int]]:
    """Non-overlapping windows of ``size`` tokens inside ``text[lo:hi]`` (absolute offsets)."""
    return _word_windows(text, lo, hi, size, size, units)


def _headings(text: str, max_level: int = 3) -> list[re.Match[str]]:
    """The markdown headings of ``text`` up to ``max_level`` (``#`` = 1), in order."""
    return [m for m in _HEADING.finditer(text)
            if len(m.group(1)) <= max_level and m.end(2) - m.start(2) <= MAX_HEADING_CHARS]


def markdown_sections(text: str, max_level: int = 2) -> list[str]:
    """Each section of a markdown text, heading line included, split before every heading of level
    ``max_level`` or less; text before the first heading is a section too (notebook 01's oracle)."""
    starts = [m.start() for m in _headings(text, max_level)]
    bounds = [0, *starts, len(text)] if not starts or starts[0] > 0 else [*starts, len(text)]
    return [section for a, b in zip(bounds, bounds[1:]) if (section := text[a:b].strip())]


def _sections(text: str) -> list[tuple[str, int, int]]:
    """``(heading path, start, end)`` for each heading-delimited section of a markdown text."""
    heads = _headings(text)
    out, path = [], {}
    if not heads or heads[0].start() > 0:
        out.append(("", 0, heads[0].start() if heads else len(text)))
    for i, m in enumerate(heads):
        level = len(m.group(1))
        path = {lvl: h for lvl, h in path.items() if lvl < level}
        path[level] = m.group(2).strip()
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        out.append((" > ".join(path[k] for k in sorted(path)), m.end(), end))
    return [(p, a, b) for p, a, b in out if _has_text(text, a, b)]


def bounded_path(path: str, size: int, count: Callable[[str], int] = count_tokens) -> str:
    """``path`` if it has at most half of ``size`` tokens (``count``: words, or a model's tokens), else its last
    words after an ellipsis (the heading nearest the chunk says most about it); none when nothing fits."""
    limit, words = size // 2, path.split()
    if count(path) <= limit:
        return path
    for j in range(min(len(words) - 1, limit), 0, -1):  # every word is at least one token
        if count(cut := "… " + " ".join(words[-j:])) <= limit:
            return cut
    return words[-1] if words and count(words[-1]) <= limit else ""


def _joined(path: str, body: str) -> str:
    """A chunk's text: its heading path, if any, on the line above its body."""
    return f"{path}\n{body}" if path else body


def _fit(text: str, path: str, a: int, b: int, size: int, units: Units,
         count: Callable[[str], int]) -> list[tuple[str, int, int]]:
    """``[(path, a, b)]`` if the chunk's text as the model reads it fits ``size``, else the span split again into
    pieces of proportionally fewer units (a word's tokens can differ at a chunk's edge)."""
    a, b = _strip(text, a, b)
    if a >= b or (total := count(_joined(path, text[a:b]))) <= size:
        return [(path, a, b)]
    heading = count(path + "\n") if path else 0
    n = _count(text, a, b, units)
    if n <= 1 or heading >= size:  # drop the heading; or keep one unit the model spells in more tokens alone
        return _fit(text, "", a, b, size, units, count) if path else [(path, a, b)]
    budget = max(1, min(n - 1, n * (size - heading) // max(total - heading, 1)))  # the share of units that fits
    return [f for x, y in _split_recursive(text, a, b, budget, 0, units)
            for f in _fit(text, path, x, y, size, units, count)]


def chunk_text(text: str, doc_id: str, config: ChunkingConfig | None = None, title: str = "", *,
               model_tokens: Callable[[str], tuple[Units, Callable[[str], int]]] | None = None) -> list[Chunk]:
    """Chunk one document's text (markdown or plain), in document order; ``doc_id`` is copied into
    every chunk, ``title`` is the heading path of ``markdown`` chunks before any heading. A chunk's whole text,
    heading path included, has at most ``config.size`` tokens (words, or ``config.tokenizer``'s tokens of the
    text exactly as the model reads it): a heading path longer than half the size is cut to its last words
    (:func:`bounded_path`), so the body keeps at least the other half (in a model's tokens, a heading that does
    not fit is left out). Exception: one of the model's tokens or one character is never cut, even where it
    alone exceeds a budget of a few tokens. ``model_tokens(text)`` gives the text's token units and a token
    counter of ``config.tokenizer`` (the retriever passes :func:`helpers.runtime.models.model_tokens`)."""
    config = config or ChunkingConfig()
    units: Units = _words
    count: Callable[[str], int] | None = None  # a model's token counter; words are counted as the units are
    if config.tokenizer is not None and config.strategy != "none":
        if model_tokens is None:
            raise ValueError(f"Chunks counted in {config.tokenizer}'s tokens need model_tokens=partial("
                             f"helpers.runtime.models.model_tokens, model={config.tokenizer!r}).")
        units, count = model_tokens(text)
    spans: list[tuple[str, int, int]]
    if config.strategy == "none":
        spans = [("", 0, len(text))]
    elif config.strategy == "fixed":
        spans = [("", a, b) for a, b in fixed_size_spans(text, config.size, config.overlap, units)]
    elif config.strategy == "sentence":
        spans = [("", a, b) for a, b in _split_recursive(text, 0, len(text), config.size, 0, units)]
    else:
        spans, measure = [], count or count_tokens
        for path, a, b in _sections(text):
            path = bounded_path(path or title, config.size, measure)
            budget = max(config.size - (measure(path + "\n") if path else 0), 1)
            spans += [(path, x, y) for x, y in _split_recursive(text, a, b, budget, 0, units)]
    if count is not None:
        spans = [f for path, a, b in spans for f in _fit(text, path, a, b, config.size, units, count)]
    chunks = []
    for path, a, b in spans:
        a, b = _strip(text, a, b)
        if a >= b:
            continue
        body = text[a:b]
        pos = len(chunks)
        chunks.append(Chunk(doc_id=doc_id, chunk_id=f"{doc_id}#{pos}", position=pos,
                            text=_joined(path, body), start=a, end=b, section=path))
    return chunks
