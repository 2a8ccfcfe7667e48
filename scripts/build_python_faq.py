#!/usr/bin/env python3
"""Build a small retrieval-evaluation corpus from the Python 3.11 FAQ.

Frozen provenance: the committed ``data/python_faq/`` is what this script produced from
Debian's ``python3.11-doc`` 3.11.2-6+deb12u9, and ``tests/test_build_python_faq.py`` checks
that rebuilding reproduces it byte for byte.  Keep its behaviour as it is.

Source: the reStructuredText sources shipped by Debian's ``python3.11-doc``
package (PSF licence), normally installed under
``/usr/share/doc/python3.11/html/_sources/``.

What the script does:

1. Parses every ``faq/*.rst.txt`` file.  Every section heading that is phrased
   as a question (contains ``?``, starts with an interrogative word, or sits at
   the innermost heading level of the file, where the FAQ entries live) becomes
   a question; the text under that heading, up to the next heading and without
   the heading itself, becomes its gold passage.  Answers with fewer than
   ``--min-answer-words`` words are dropped.
2. Adds distractor passages cut from the tutorial, HOWTO and language-reference
   documents (and the library reference only if those are not enough): each
   document is split at its section headings, long sections are split at
   paragraph boundaries into chunks of roughly 60-300 words, and short or
   mostly-code chunks are skipped.  Distractors are chosen deterministically
   (lowest SHA-256 of source and text) until the corpus holds
   ``--total-passages`` passages.
3. Writes ``passages.jsonl``, ``questions.jsonl`` and ``LICENSE-PSF.txt``.
   Each question gets a train/dev/test split (40/20/40) from the rank of the
   SHA-256 hash of its text among all question texts.

reST is cleaned lightly: comments, labels and non-content directives
(``.. index::`` and friends) are dropped, roles such as ``:func:`len``` become
their text, hyperlinks become their link text, code blocks are kept as plain
text, and whitespace is collapsed within each paragraph (paragraphs are joined
with a blank line).  The output is byte-for-byte deterministic for a given
input tree.

Usage (from the repository root; needs ``apt-get install python3.11-doc``)::

    python scripts/build_python_faq.py \
        --source-dir /usr/share/doc/python3.11/html/_sources \
        --out-dir data/python_faq
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SOURCE_DIR = Path("/usr/share/doc/python3.11/html/_sources")
DEFAULT_OUT_DIR = Path("data/python_faq")
LICENSE_CANDIDATES = (
    Path("/usr/share/doc/python3.11-doc/copyright"),
    Path("/usr/share/doc/python3.11/copyright"),
)
DISTRACTOR_DIRS = ("tutorial", "howto", "reference")
FALLBACK_DISTRACTOR_DIRS = ("library",)
# |version| / |release| substitutions used by the Sphinx sources.
SUBSTITUTIONS = {"version": "3.11", "release": "3.11"}

ADORNMENT_CHARS = "=-~^\"'`#*+.:_<>!$%&,;/?@[\\]{|}"
ADORNMENT_RE = re.compile(r"^([" + re.escape(ADORNMENT_CHARS) + r"])\1{2,}\s*$")
DIRECTIVE_RE = re.compile(r"^(\s*)\.\.\s+([A-Za-z][\w:.+-]*)::(?:\s+(.*))?$")
COMMENT_RE = re.compile(r"^(\s*)\.\.(?:\s+(.*))?$")
FOOTNOTE_RE = re.compile(r"^\[(?:#[\w-]*|\d+|\*)\]\s*(.*)$")
LABEL_RE = re.compile(r"^\.\.\s+_([^:`]+):\s*$")
BULLET_RE = re.compile(r"^(\s*)(?:[*+\-\u2022]|#\.|\d+[.)]|\(\d+\))\s+")
OPTION_LINE_RE = re.compile(r"^\s*:[\w -]+:(?:\s.*)?$")
TABLE_BORDER_RE = re.compile(r"^\s*(?:[+=\-|]*[+=\-][+=\-| ]*)$")
INTERROGATIVE_RE = re.compile(
    r"^(?:how|what|what's|why|when|where|which|who|whom|whose|is|are|am|can|"
    r"can't|could|do|does|did|don't|doesn't|should|will|would|has|have|may|"
    r"must)\b",
    re.IGNORECASE,
)

# Directives whose whole block (argument, options and content) is dropped.
DROP_DIRECTIVES = frozenset(
    {
        "index",
        "contents",
        "toctree",
        "highlight",
        "sectionauthor",
        "moduleauthor",
        "module",
        "currentmodule",
        "testsetup",
        "testcleanup",
        "image",
        "figure",
        "raw",
        "include",
        "literalinclude",
        "productionlist",
        "tabularcolumns",
        "audit-event",
        "default-role",
        "role",
        "cssclass",
        "rst-class",
        "autosummary",
        "c:namespace",
        "py:currentmodule",
        "py:module",
        "opcode",
        "grammar-snippet",
    }
)
# Directives whose content is code: kept verbatim, without inline cleanup.
CODE_DIRECTIVES = frozenset(
    {
        "code-block",
        "code",
        "sourcecode",
        "doctest",
        "testcode",
        "testoutput",
        "parsed-literal",
    }
)
VERSION_PREFIXES = {
    "versionadded": "New in version {}.",
    "versionchanged": "Changed in version {}:",
    "deprecated": "Deprecated since version {}:",
    "deprecated-removed": "Deprecated since version {}:",
}
DOCTEST_FLAG_RE = re.compile(r"\s*#\s*doctest:.*$")
INLINE_VERSION_RE = re.compile(r"\.\. (versionadded|versionchanged|deprecated)::\s*(\S+?)\.?(?=\s|$)")
FUNCTION_ROLES = frozenset({"func", "meth", "py:func", "py:meth", "c:func"})


@dataclass(frozen=True)
class Heading:
    """A reST section title found in a document."""

    start: int  # index of the first line of the title (overline or text)
    end: int  # index of the first line after the underline
    text: str  # raw title text
    style: tuple[str, bool]  # (adornment character, has overline)


@dataclass(frozen=True)
class Section:
    """The body of a document between one heading and the next."""

    title: str
    level: int
    body: list[str]
    heading_line: int


@dataclass(frozen=True)
class Block:
    """A paragraph-level chunk of cleaned text."""

    text: str
    is_code: bool


# --------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------


def read_lines(path: Path) -> list[str]:
    """Return the lines of a UTF-8 text file, tabs expanded, no newlines."""
    text = path.read_text(encoding="utf-8")
    return [line.rstrip().expandtabs(8) for line in text.splitlines()]


def find_headings(lines: list[str]) -> list[Heading]:
    """Find reST section titles (underlined, optionally overlined)."""
    headings: list[Heading] = []
    i = 0
    n = len(lines)
    while i < n:
        line = lines[i]
        prev_blank = i == 0 or not lines[i - 1].strip()
        # Overlined title: adornment / text / same adornment.
        if (
            prev_blank
            and ADORNMENT_RE.match(line)
            and i + 2 < n
            and lines[i + 1].strip()
            and not ADORNMENT_RE.match(lines[i + 1])
            and lines[i + 2].strip() == line.strip()
        ):
            headings.append(Heading(i, i + 3, lines[i + 1].strip(), (line[0], True)))
            i += 3
            continue
        # Underlined title: non-indented text / adornment at least as long.
        if (
            prev_blank
            and line.strip()
            and not line[0].isspace()
            and not ADORNMENT_RE.match(line)
            and i + 1 < n
            and ADORNMENT_RE.match(lines[i + 1])
            and len(lines[i + 1].rstrip()) >= len(line.rstrip())
            and not lines[i + 1][0].isspace()
        ):
            headings.append(Heading(i, i + 2, line.strip(), (lines[i + 1][0], False)))
            i += 2
            continue
        i += 1
    return headings


def split_sections(lines: list[str]) -> list[Section]:
    """Split a document into sections; level 0 is the outermost style."""
    headings = find_headings(lines)
    styles: list[tuple[str, bool]] = []
    for heading in headings:
        if heading.style not in styles:
            styles.append(heading.style)
    sections: list[Section] = []
    for idx, heading in enumerate(headings):
        stop = headings[idx + 1].start if idx + 1 < len(headings) else len(lines)
        body = lines[heading.end : stop]
        # A label or index directive right before the next title belongs to it.
        while body and (not body[-1].strip() or LABEL_RE.match(body[-1].strip())):
            body = body[:-1]
        sections.append(Section(heading.text, styles.index(heading.style), body, heading.start))
    return sections


def collect_labels(source_dir: Path) -> dict[str, str]:
    """Map ``.. _label:`` targets that precede a heading to the heading text."""
    labels: dict[str, str] = {}
    for path in sorted(source_dir.rglob("*.rst.txt")):
        lines = read_lines(path)
        starts = {h.start: h.text for h in find_headings(lines)}
        for i, line in enumerate(lines):
            match = LABEL_RE.match(line.strip())
            if not match:
                continue
            j = i + 1
            while j < len(lines) and (not lines[j].strip() or LABEL_RE.match(lines[j].strip())):
                j += 1
            if j in starts:
                labels.setdefault(match.group(1).strip().lower(), starts[j])
    return labels


# --------------------------------------------------------------------------
# Inline markup
# --------------------------------------------------------------------------

ROLE_RE = re.compile(r":(?P<role>[A-Za-z][\w.+-]*(?::[\w.+-]+)*):`(?P<body>[^`]+)`")
LITERAL_RE = re.compile(r"``(?P<body>\S.*?)(?<!\s)``(?!`)", re.DOTALL)
LINK_RE = re.compile(r"`(?P<body>[^`]+)`__?(?![\w])")
DEFAULT_ROLE_RE = re.compile(r"`(?P<body>[^`]+)`")
STRONG_RE = re.compile(r"(?<![\w*\\])\*\*(?P<body>\S.*?)(?<!\s)\*\*(?![\w*])", re.DOTALL)
EMPHASIS_RE = re.compile(r"(?<![\w*\\])\*(?P<body>[^\s*][^*]*?)(?<![\s\\])\*(?![\w*])")
FOOTNOTE_REF_RE = re.compile(r"\s*\[(?:#[\w-]*|\d+|\*)\]_")
SUBST_RE = re.compile(r"\|(\w+)\|")
EXPLICIT_TITLE_RE = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$", re.DOTALL)


class InlineCleaner:
    """Turn reST inline markup into plain text."""

    def __init__(self, labels: dict[str, str]) -> None:
        """Remember the label-to-title map used for ``:ref:`` roles."""
        self.labels = labels

    def role_text(self, role: str, body: str) -> str:
        """Render one interpreted-text role roughly as Sphinx would."""
        body = " ".join(body.split())
        role = role.split(":")[-1] if role.startswith(("py:", "c:", "std:")) else role
        match = EXPLICIT_TITLE_RE.match(body)
        if match and match.group("title"):
            title = match.group("title")
            if role in {"pep", "rfc"}:
                return title
            return title.replace("\\", "")
        target = match.group("target") if match else body
        target = target.lstrip("!")
        if role == "ref":
            title = self.labels.get(target.lower())
            return collapse(self.clean(title)) if title else target.replace("-", " ")
        if role == "doc":
            return target.rstrip("/").split("/")[-1].replace("-", " ")
        if role == "pep":
            return f"PEP {target.split('#')[0]}"
        if role == "rfc":
            return f"RFC {target.split('#')[0]}"
        if role in {"samp", "file"}:
            target = re.sub(r"(?<!\\)\{([^{}]*)\}", r"\1", target)
        if role == "abbr":
            target = re.sub(r"\s*\(.*\)$", "", target)
        if role == "menuselection":
            target = target.replace("-->", "\u2023")
        if target.startswith("~"):
            target = target[1:].split(".")[-1]
        if role in FUNCTION_ROLES or f"py:{role}" in FUNCTION_ROLES:
            if not target.endswith(")"):
                target += "()"
        return target.replace("\\", "")

    def clean(self, text: str) -> str:
        """Strip inline markup from one paragraph of prose."""
        saved: list[str] = []

        def stash(value: str) -> str:
            saved.append(value)
            return f"\x00{len(saved) - 1}\x00"

        text = LITERAL_RE.sub(lambda m: stash(m.group("body")), text)
        text = ROLE_RE.sub(lambda m: stash(self.role_text(m.group("role"), m.group("body"))), text)

        def link(m: re.Match[str]) -> str:
            body = " ".join(m.group("body").split())
            match = EXPLICIT_TITLE_RE.match(body)
            if match:
                return stash(match.group("title") or match.group("target"))
            return stash(body)

        text = LINK_RE.sub(link, text)
        text = DEFAULT_ROLE_RE.sub(lambda m: stash(m.group("body")), text)
        text = FOOTNOTE_REF_RE.sub("", text)
        text = STRONG_RE.sub(lambda m: m.group("body"), text)
        text = EMPHASIS_RE.sub(lambda m: m.group("body"), text)
        text = text.replace("---", "\u2014")  # Sphinx smartquotes: em dash
        text = SUBST_RE.sub(lambda m: SUBSTITUTIONS.get(m.group(1), m.group(0)), text)
        # Backslash escapes: "\ " vanishes, "\x" becomes "x".
        text = re.sub(r"\\(.)", lambda m: "" if m.group(1) == " " else m.group(1), text)
        while "\x00" in text:  # stashed spans may contain stashed spans
            text = re.sub(r"\x00(\d+)\x00", lambda m: saved[int(m.group(1))], text)
        return text


# --------------------------------------------------------------------------
# Block-level cleaning
# --------------------------------------------------------------------------


def indent_of(line: str) -> int:
    """Number of leading spaces of a line."""
    return len(line) - len(line.lstrip(" "))


def collect_indented(lines: list[str], start: int, indent: int) -> int:
    """Return the index after the block of lines indented deeper than ``indent``.

    Blank lines inside the block are included; trailing blank lines are not.
    """
    j = start
    last = start
    while j < len(lines):
        if lines[j].strip():
            if indent_of(lines[j]) <= indent:
                break
            last = j + 1
        j += 1
    return last


def dedent(lines: list[str]) -> list[str]:
    """Remove the common leading indentation of non-blank lines."""
    widths = [indent_of(line) for line in lines if line.strip()]
    cut = min(widths) if widths else 0
    return [line[cut:] for line in lines]


def collapse(text: str) -> str:
    """Collapse every run of whitespace to a single space."""
    return " ".join(text.split())


def strip_literal_marker(text: str) -> str:
    """Apply reST's ``::`` rules to the end of a paragraph."""
    stripped = text.rstrip()
    if stripped == "::":
        return ""
    if stripped.endswith(" ::"):
        return stripped[:-3].rstrip()
    return stripped[:-1]


class BlockCleaner:
    """Convert a list of reST lines into cleaned paragraph blocks."""

    def __init__(self, inline: InlineCleaner) -> None:
        """Use ``inline`` for prose paragraphs."""
        self.inline = inline

    def prose(self, lines: list[str]) -> Block | None:
        """Clean one prose paragraph (grid-table pipes become spaces)."""
        parts = []
        for line in lines:
            if TABLE_BORDER_RE.match(line) and set(line.strip()) <= set("+=-| "):
                continue
            stripped = line.strip()
            if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
                stripped = stripped.strip("|").replace(" | ", " ")
            parts.append(stripped)
        text = "\n".join(parts)
        # Directives inside grid-table cells cannot be parsed as blocks.
        text = INLINE_VERSION_RE.sub(
            lambda m: VERSION_PREFIXES[m.group(1)].format(m.group(2)).rstrip(":.") + ".", text
        )
        text = collapse(self.inline.clean(text))
        return Block(text, False) if text else None

    def code(self, lines: list[str]) -> Block | None:
        """Keep a code block's text (minus doctest flags), whitespace collapsed."""
        text = collapse("\n".join(DOCTEST_FLAG_RE.sub("", line) for line in lines))
        return Block(text, True) if text else None

    def directive(self, name: str, argument: str, content: list[str], out: list[Block]) -> None:
        """Render one directive block into ``out``."""
        # Split off the option lines (":linenos:", ":emphasize-lines: 3" ...).
        k = 0
        while k < len(content) and OPTION_LINE_RE.match(content[k]):
            k += 1
        body = dedent(content[k:])
        if name in DROP_DIRECTIVES:
            return
        if name in CODE_DIRECTIVES:
            block = self.code(body)
            if block:
                out.append(block)
            return
        if name == "only" and argument.strip() not in {"html", "not latex"}:
            return
        lead = ""
        if name in VERSION_PREFIXES:
            version, _, rest = argument.partition(" ")
            if name == "deprecated-removed":
                rest = rest.partition(" ")[2]
            lead = VERSION_PREFIXES[name].format(version.strip())
            if rest.strip():
                lead = f"{lead} {rest.strip()}"
        elif name not in {"only", "impl-detail", "hlist", "container"}:
            # Admonition text on the directive line, signatures (method::),
            # rubric, topic, sidebar ...
            lead = argument.strip()
        inner = self.clean(body)
        if lead:
            lead_block = self.prose([lead])
            if lead_block and inner and not inner[0].is_code:
                inner[0] = Block(f"{lead_block.text} {inner[0].text}", False)
            elif lead_block:
                out.append(lead_block)
        out.extend(inner)

    def clean(self, lines: list[str]) -> list[Block]:
        """Clean reST ``lines`` into a list of blocks."""
        out: list[Block] = []
        i = 0
        n = len(lines)
        while i < n:
            line = lines[i]
            if not line.strip():
                i += 1
                continue
            indent = indent_of(line)
            match = DIRECTIVE_RE.match(line)
            if match:
                name = match.group(2).lower()
                argument = match.group(3) or ""
                end = collect_indented(lines, i + 1, indent)
                # A multi-line argument continues on the following lines.
                content = lines[i + 1 : end]
                self.directive(name, argument, content, out)
                i = end
                continue
            match = COMMENT_RE.match(line)
            if match:
                end = collect_indented(lines, i + 1, indent)
                rest = (match.group(2) or "").strip()
                foot = FOOTNOTE_RE.match(rest)
                if foot:  # footnote body: keep it as prose
                    out.extend(self.clean([foot.group(1), *dedent(lines[i + 1 : end])]))
                i = end
                continue
            if line.lstrip().startswith(">>>"):
                j = i
                while j < n and lines[j].strip():
                    j += 1
                block = self.code(lines[i:j])
                if block:
                    out.append(block)
                i = j
                continue
            # Ordinary paragraph: runs to a blank line, a less-indented line,
            # or a new list item / directive.
            bullet = BULLET_RE.match(line)
            j = i + 1
            while j < n and lines[j].strip():
                if indent_of(lines[j]) < indent:
                    break
                # Consecutive list items need no blank line between them (a
                # marker-like line inside an ordinary paragraph is just text).
                if bullet and BULLET_RE.match(lines[j]) and indent_of(lines[j]) == indent:
                    break
                if DIRECTIVE_RE.match(lines[j]) or COMMENT_RE.match(lines[j]):
                    break
                j += 1
            para = lines[i:j]
            # Indentation that a literal block after "::" must exceed: that of
            # the paragraph's last line, or of the text after a list marker.
            if len(para) > 1:
                ref_indent = indent_of(para[-1])
            elif bullet:
                ref_indent = len(bullet.group(0))
            else:
                ref_indent = indent
            para[0] = BULLET_RE.sub(
                lambda m: m.group(0) if re.search(r"\d|#", m.group(0)) else "- ",
                para[0],
                count=1,
            )
            literal_follows = para[-1].rstrip().endswith("::")
            if literal_follows:
                para[-1] = strip_literal_marker(para[-1])
            block = self.prose(para)
            if block:
                out.append(block)
            i = j
            if literal_follows:
                while i < n and not lines[i].strip():
                    i += 1
                if i < n and indent_of(lines[i]) > ref_indent:
                    end = collect_indented(lines, i, ref_indent)
                    code = self.code(dedent(lines[i:end]))
                    if code:
                        out.append(code)
                    i = end
                elif i < n and lines[i][:1] in ADORNMENT_CHARS and lines[i][:1] != " ":
                    # Quoted literal block (unindented, every line prefixed).
                    j = i
                    while j < n and lines[j].strip():
                        j += 1
                    code = self.code(lines[i:j])
                    if code:
                        out.append(code)
                    i = j
        return out


def blocks_text(blocks: list[Block]) -> str:
    """Join blocks into passage text, one blank line between paragraphs."""
    return "\n\n".join(block.text for block in blocks)


def word_count(text: str) -> int:
    """Whitespace-delimited word count."""
    return len(text.split())


# --------------------------------------------------------------------------
# FAQ questions and answers
# --------------------------------------------------------------------------


def is_question(title: str, level: int, innermost: int) -> bool:
    """Decide whether a FAQ heading is a question entry."""
    if "?" in title or INTERROGATIVE_RE.match(title):
        return True
    # FAQ entries that are phrased as problem statements ("My class defines
    # __del__ but ...") sit at the same innermost level as the questions.
    return level == innermost and level > 0


def slug(text: str) -> str:
    """Lower-case slug: runs of non-alphanumerics become single hyphens."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def build_faq(
    source_dir: Path, cleaner: BlockCleaner, min_words: int
) -> tuple[list[dict[str, str]], list[dict[str, str]], list[str]]:
    """Return (passages, questions-without-ids/splits, dropped headings)."""
    passages: list[dict[str, str]] = []
    questions: list[dict[str, str]] = []
    dropped: list[str] = []
    faq_files = sorted((source_dir / "faq").glob("*.rst.txt"))
    if not faq_files:
        raise SystemExit(f"no faq/*.rst.txt files under {source_dir}")
    for path in faq_files:
        rel = path.relative_to(source_dir).as_posix()
        sections = split_sections(read_lines(path))
        if not sections:
            continue
        innermost = max(section.level for section in sections)
        counter = 0
        for section in sections:
            if section.level == 0 or not is_question(section.title, section.level, innermost):
                continue
            question = collapse(cleaner.inline.clean(section.title))
            text = blocks_text(cleaner.clean(section.body))
            if word_count(text) < min_words:
                dropped.append(f"{rel}: {question} ({word_count(text)} words)")
                continue
            counter += 1
            pid = f"faq-{slug(path.name.removesuffix('.rst.txt'))}-{counter:04d}"
            passages.append(
                {
                    "id": pid,
                    "text": text,
                    "source": rel,
                    "title": question,
                    "kind": "faq-answer",
                }
            )
            questions.append({"question": question, "passage_id": pid, "source": rel})
    return passages, questions, dropped


# --------------------------------------------------------------------------
# Distractors
# --------------------------------------------------------------------------


def split_long(blocks: list[Block], max_words: int) -> list[list[Block]]:
    """Pack blocks into chunks of at most ``max_words`` words, balanced."""
    total = sum(word_count(b.text) for b in blocks)
    pieces: list[Block] = []
    for block in blocks:
        if word_count(block.text) <= max_words:
            pieces.append(block)
            continue
        # An oversized paragraph is split at sentence ends (prose) or evenly.
        if block.is_code:
            units = block.text.split(" ")
        else:
            units = re.split(r"(?<=[.!?])\s+", block.text)
        current: list[str] = []
        for unit in units:
            if current and word_count(" ".join([*current, unit])) > max_words:
                pieces.append(Block(" ".join(current), block.is_code))
                current = []
            current.append(unit)
        if current:
            pieces.append(Block(" ".join(current), block.is_code))
    n_chunks = max(1, math.ceil(total / max_words))
    target = total / n_chunks
    chunks: list[list[Block]] = []
    current_blocks: list[Block] = []
    current_words = 0
    for piece in pieces:
        words = word_count(piece.text)
        if current_blocks and (current_words + words > max_words or current_words >= target):
            chunks.append(current_blocks)
            current_blocks, current_words = [], 0
        current_blocks.append(piece)
        current_words += words
    if current_blocks:
        chunks.append(current_blocks)
    return chunks


def distractor_candidates(
    source_dir: Path,
    subdirs: tuple[str, ...],
    cleaner: BlockCleaner,
    min_words: int,
    max_words: int,
    min_prose_fraction: float,
) -> list[dict[str, str]]:
    """Cut every document under ``subdirs`` into candidate passages.

    Chunks outside ``[min_words, max_words]`` are skipped, and so are chunks
    in which code blocks make up more than ``1 - min_prose_fraction`` of the
    words (such passages make poor distractors).
    """
    candidates: list[dict[str, str]] = []
    for subdir in subdirs:
        for path in sorted((source_dir / subdir).glob("*.rst.txt")):
            if path.name == "index.rst.txt":
                continue
            rel = path.relative_to(source_dir).as_posix()
            sections = split_sections(read_lines(path))
            doc_title = collapse(cleaner.inline.clean(sections[0].title)) if sections else ""
            for section in sections:
                blocks = cleaner.clean(section.body)
                if not blocks:
                    continue
                title = collapse(cleaner.inline.clean(section.title)) or doc_title
                for chunk in split_long(blocks, max_words):
                    text = blocks_text(chunk)
                    words = word_count(text)
                    if words < min_words or words > max_words:
                        continue
                    prose = sum(word_count(b.text) for b in chunk if not b.is_code)
                    if prose < min_prose_fraction * words:
                        continue
                    candidates.append({"text": text, "source": rel, "title": title, "kind": "distractor"})
    return candidates


def sha_int(text: str) -> int:
    """Stable integer hash of a string."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def select_distractors(
    candidates: list[dict[str, str]], wanted: int, banned_texts: set[str]
) -> list[dict[str, str]]:
    """Pick ``wanted`` candidates by lowest hash, keep document order, add ids."""
    unique: list[dict[str, str]] = []
    seen = set(banned_texts)
    for cand in candidates:
        if cand["text"] in seen:
            continue
        seen.add(cand["text"])
        unique.append(cand)
    order = sorted(
        range(len(unique)),
        key=lambda k: (sha_int(unique[k]["source"] + "\n" + unique[k]["text"]), k),
    )
    chosen = sorted(order[: max(0, wanted)])
    counters: dict[str, int] = {}
    selected: list[dict[str, str]] = []
    for k in chosen:
        cand = unique[k]
        source = cand["source"]
        counters[source] = counters.get(source, 0) + 1
        subdir, _, name = source.partition("/")
        pid = f"dist-{slug(subdir)}-{slug(name.removesuffix('.rst.txt'))}-{counters[source]:04d}"
        selected.append({"id": pid, **cand})
    return selected


# --------------------------------------------------------------------------
# Splits, licence, output
# --------------------------------------------------------------------------


def assign_splits(questions: list[str]) -> dict[str, str]:
    """Map each distinct question text to "train", "dev" or "test".

    Distinct texts are ranked by the SHA-256 of the text; the first 40% of
    the ranking is train, the next 20% dev and the rest test.  The result
    depends only on the set of question texts, and identical texts always
    share a split.
    """
    ranked = sorted(set(questions), key=lambda q: (sha_int("python-faq-split:" + q), q))
    n_train = round(0.4 * len(ranked))
    n_dev = round(0.2 * len(ranked))
    splits: dict[str, str] = {}
    for rank, question in enumerate(ranked):
        if rank < n_train:
            splits[question] = "train"
        elif rank < n_train + n_dev:
            splits[question] = "dev"
        else:
            splits[question] = "test"
    return splits


def licence_text() -> str:
    """Return the Python licence section of the Debian copyright file."""
    for path in LICENSE_CANDIDATES:
        if not path.is_file():
            continue
        full = path.read_text(encoding="utf-8")
        start = full.find("Python License\n==============")
        stop = full.find("Licenses and Acknowledgements for Incorporated Software")
        header = (
            f"Extracted verbatim from {path} (Debian package python3.11-doc):\n"
            "the 'Python License' section, i.e. the history of the software and\n"
            "the PSF License Agreement (with the BeOpen, CNRI and CWI licences).\n"
            "The full file also lists licences of third-party code bundled with\n"
            "CPython, which is not part of this corpus.\n\n"
        )
        if start != -1 and stop > start:
            return header + full[start:stop].rstrip() + "\n"
        return full
    raise SystemExit("cannot find the Debian copyright file of python3.11-doc")


def write_jsonl(path: Path, records: list[dict[str, str]]) -> None:
    """Write records as UTF-8 JSON lines with a fixed key order."""
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source-dir",
        type=Path,
        default=DEFAULT_SOURCE_DIR,
        help="Sphinx _sources directory of python3.11-doc (default: %(default)s)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help="output directory (default: %(default)s)",
    )
    parser.add_argument(
        "--total-passages",
        type=int,
        default=850,
        help="target corpus size, FAQ answers plus distractors (default: %(default)s)",
    )
    parser.add_argument(
        "--min-answer-words",
        type=int,
        default=20,
        help="drop FAQ answers shorter than this (default: %(default)s)",
    )
    parser.add_argument("--min-words", type=int, default=60, help="distractor minimum")
    parser.add_argument("--max-words", type=int, default=300, help="distractor maximum")
    parser.add_argument(
        "--min-prose-fraction",
        type=float,
        default=0.5,
        help="minimum share of non-code words in a distractor (default: %(default)s)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the corpus and print counts."""
    args = parse_args(argv)
    source_dir: Path = args.source_dir
    if not (source_dir / "faq").is_dir():
        print(f"error: {source_dir}/faq not found (apt-get install python3.11-doc)", file=sys.stderr)
        return 1
    cleaner = BlockCleaner(InlineCleaner(collect_labels(source_dir)))

    faq_passages, faq_questions, dropped = build_faq(source_dir, cleaner, args.min_answer_words)
    wanted = args.total_passages - len(faq_passages)
    banned = {p["text"] for p in faq_passages}
    limits = (args.min_words, args.max_words, args.min_prose_fraction)
    candidates = distractor_candidates(source_dir, DISTRACTOR_DIRS, cleaner, *limits)
    if len(candidates) < wanted:
        candidates += distractor_candidates(source_dir, FALLBACK_DISTRACTOR_DIRS, cleaner, *limits)
    distractors = select_distractors(candidates, wanted, banned)

    splits = assign_splits([q["question"] for q in faq_questions])
    questions = [
        {
            "id": f"pyq-{k:04d}",
            "question": q["question"],
            "passage_id": q["passage_id"],
            "source": q["source"],
            "split": splits[q["question"]],
        }
        for k, q in enumerate(faq_questions, start=1)
    ]
    passages = faq_passages + distractors

    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "passages.jsonl", passages)
    write_jsonl(out_dir / "questions.jsonl", questions)
    (out_dir / "LICENSE-PSF.txt").write_text(licence_text(), encoding="utf-8")

    print(f"source: {source_dir}")
    print(f"dropped FAQ headings (answer < {args.min_answer_words} words): {len(dropped)}")
    for item in dropped:
        print(f"  - {item}")
    print(f"questions: {len(questions)}")
    for split in ("train", "dev", "test"):
        print(f"  {split}: {sum(q['split'] == split for q in questions)}")
    print(f"passages: {len(passages)}")
    print(f"  faq-answer: {len(faq_passages)}")
    print(f"  distractor: {len(distractors)} (of {len(candidates)} candidates)")
    by_dir: dict[str, int] = {}
    for passage in distractors:
        top = passage["source"].split("/")[0]
        by_dir[top] = by_dir.get(top, 0) + 1
    for top, count in sorted(by_dir.items()):
        print(f"    {top}: {count}")
    for name in ("passages.jsonl", "questions.jsonl", "LICENSE-PSF.txt"):
        print(f"{out_dir / name}: {(out_dir / name).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
