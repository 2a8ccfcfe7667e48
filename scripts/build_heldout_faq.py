#!/usr/bin/env python3
"""Build the held-out retrieval corpus: the SQLite FAQ and the Git FAQ, with distractors.

Nothing in the workbook is tuned on this corpus. It exists so that the retrieval defaults can be
checked on documents no choice ever saw (``benchmarks/retrieval_defaults.py``, notebook 03).

Sources (Debian bookworm documentation packages, installed with ``apt-get install sqlite3-doc git-doc``):

* ``/usr/share/doc/sqlite3/faq.html`` — the SQLite FAQ (public domain). Each ``(N) question`` becomes a
  question; the text of its answer (without the question) is its gold passage. Answers under 20
  words (pointers such as "See limits.html") are dropped.
* ``/usr/share/doc/git-doc/gitfaq.txt`` — the Git FAQ (GPL-2). Each ``question?::`` entry becomes a
  question; the text under it is its gold passage.
* Distractors: consecutive paragraphs (60–300 words) of other pages of the same two packages
  (``SQLITE_PAGES`` and ``GIT_PAGES`` below), chosen deterministically by SHA-256 until each source
  contributes ``--distractors`` passages. Some are realistic hard negatives (``autoinc.html`` explains
  AUTOINCREMENT, which FAQ 1 asks about).

Markup is stripped (HTML tags, AsciiDoc ``linkgit:`` macros, list continuation ``+`` lines) and
whitespace collapsed within paragraphs. The output is byte-for-byte deterministic for a given input
tree. All questions are in one split, ``heldout``: the corpus is only ever measured, never tuned on.

Usage (from the repository root)::

    python scripts/build_heldout_faq.py --out-dir data/heldout_faq
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import re
import shutil
from pathlib import Path

SQLITE_DIR = Path("/usr/share/doc/sqlite3")
GIT_DIR = Path("/usr/share/doc/git-doc")
SQLITE_PAGES = ("quirks.html", "whentouse.html", "autoinc.html", "lang_createtable.html", "datatype3.html",
                "lockingv3.html", "tempfiles.html", "inmemorydb.html", "nulls.html", "limits.html",
                "foreignkeys.html", "pragma.html")
GIT_PAGES = ("gittutorial.txt", "git-config.txt", "git-commit.txt", "git-push.txt", "git-reset.txt",
             "git-stash.txt", "gitcredentials.txt", "git-rebase.txt", "gitignore.txt", "git-clone.txt",
             "git-fetch.txt", "gitattributes.txt")
MIN_ANSWER_WORDS = 20  # shorter answers are pointers ("See limits.html ..."), as in the Python FAQ
LICENCE_FILES = {"LICENSE-GPL-2-git.txt": Path("/usr/share/common-licenses/GPL-2")}


def _words(text: str) -> int:
    return len(text.split())


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def html_paragraphs(raw: str) -> list[str]:
    """Visible text of an HTML page, one string per block element."""
    raw = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", raw)
    raw = re.sub(r"(?i)</?(p|div|h[1-6]|li|ul|ol|pre|blockquote|table|tr|br)\b[^>]*>", "\n\n", raw)
    raw = re.sub(r"<[^>]+>", " ", raw)
    return [_clean(html.unescape(p)) for p in re.split(r"\n\s*\n", raw) if _clean(html.unescape(p))]


def asciidoc_paragraphs(raw: str) -> list[str]:
    """Paragraphs of an AsciiDoc page, without headings, anchors, rulers and continuation marks."""
    raw = re.sub(r"linkgit:([\w-]+)\[(\d)\]", r"\1(\2)", raw)
    keep = []
    for line in raw.splitlines():
        stripped = line.strip()
        if re.fullmatch(r"[-=~^+]{3,}", stripped) or re.fullmatch(r"\[\[[^\]]+\]\]", stripped) or stripped == "+":
            keep.append("")
            continue
        keep.append(line)
    return [_clean(p) for p in re.split(r"\n\s*\n", "\n".join(keep)) if _clean(p)]


def sqlite_faq(path: Path) -> list[tuple[str, str]]:
    """(question, answer) pairs of the SQLite FAQ page."""
    raw = path.read_text(encoding="utf-8")
    parts = re.split(r'<a name="q\d+"></a>', raw)[1:]
    pairs = []
    for part in parts:
        m = re.search(r"<b>\(\d+\)\s*(.*?)</b>", part, re.S)
        if not m:
            continue
        question = _clean(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))))
        body = part[m.end():]
        body = body.split("<hr")[0]
        answer = "\n\n".join(html_paragraphs(body))
        pairs.append((question, answer))
    return pairs


def git_faq(path: Path) -> list[tuple[str, str]]:
    """(question, answer) pairs of gitfaq.txt (entries ``question::`` under ``[[anchor]]``)."""
    raw = path.read_text(encoding="utf-8")
    body = raw.split("DESCRIPTION", 1)[1].split("\nSEE ALSO", 1)[0]
    entries = re.split(r"^\[\[[^\]]+\]\]\n", body, flags=re.M)[1:]
    pairs = []
    for entry in entries:
        head, _, rest = entry.partition("::\n")
        # the last section heading of an entry belongs to the next part of the file, not to the answer
        rest = re.sub(r"\n[^\n]+\n-{3,}\n.*$", "\n", rest, flags=re.S)
        pairs.append((_clean(head), "\n\n".join(asciidoc_paragraphs(rest))))
    return pairs


def blocks(paragraphs: list[str], low: int = 60, high: int = 300) -> list[str]:
    """Consecutive paragraphs grouped into passages of ``low``–``high`` words; paragraphs of fewer than
    six words (menus, headings, tables of contents, one-line commands) are left out."""
    out, current = [], []
    for p in paragraphs:
        if _words(p) < 6:
            continue
        if current and _words(" ".join(current + [p])) > high:
            if _words(" ".join(current)) >= low:
                out.append("\n\n".join(current))
            current = []
        if _words(p) <= high:
            current.append(p)
    if current and _words(" ".join(current)) >= low:
        out.append("\n\n".join(current))
    return out


def _pick(candidates: list[tuple[str, str]], n: int) -> list[tuple[str, str]]:
    ranked = sorted(candidates, key=lambda st: hashlib.sha256((st[0] + "\n" + st[1]).encode()).hexdigest())
    return sorted(ranked[:n], key=lambda st: (st[0], candidates.index(st)))


def build(out_dir: Path, distractors: int) -> tuple[int, int]:
    """Write passages.jsonl, questions.jsonl and the licence texts; return (passages, questions)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    passages, questions = [], []
    for source, pairs, prefix in (("sqlite3/faq.html", sqlite_faq(SQLITE_DIR / "faq.html"), "sqlite"),
                                  ("git-doc/gitfaq.txt", git_faq(GIT_DIR / "gitfaq.txt"), "git")):
        pairs = [(q, a) for q, a in pairs if _words(a) >= MIN_ANSWER_WORDS]
        for i, (question, answer) in enumerate(pairs, 1):
            pid = f"{prefix}-faq-{i:02d}"
            passages.append({"id": pid, "text": answer, "source": source, "title": question, "kind": "faq-answer"})
            questions.append({"id": f"hq-{prefix}-{i:02d}", "question": question, "passage_id": pid,
                              "source": source, "split": "heldout"})
    for prefix, folder, pages, reader in (("sqlite", SQLITE_DIR, SQLITE_PAGES, html_paragraphs),
                                          ("git", GIT_DIR, GIT_PAGES, asciidoc_paragraphs)):
        candidates = [(f"{folder.name}/{page}", text) for page in pages
                      for text in blocks(reader((folder / page).read_text(encoding="utf-8")))]
        for i, (source, text) in enumerate(_pick(candidates, distractors), 1):
            passages.append({"id": f"{prefix}-doc-{i:03d}", "text": text, "source": source, "title": "",
                             "kind": "distractor"})
    for name, rows in (("passages.jsonl", passages), ("questions.jsonl", questions)):
        (out_dir / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    for name, path in LICENCE_FILES.items():
        shutil.copyfile(path, out_dir / name)
    return len(passages), len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out-dir", type=Path, default=Path("data/heldout_faq"))
    parser.add_argument("--distractors", type=int, default=100, help="distractor passages per source")
    args = parser.parse_args()
    n_passages, n_questions = build(args.out_dir, args.distractors)
    print(f"wrote {n_passages} passages and {n_questions} questions to {args.out_dir}")


if __name__ == "__main__":
    main()
