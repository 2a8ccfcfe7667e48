"""The notebooks read like a course: short prose, no project history, no result the outputs do not show.

Fast: these tests only read the notebooks' JSON. A number in the prose that no cell prints goes stale the next
time the notebook is re-run; `prose_drift` finds those, so the prose names the printed number or none.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]_solutions.ipynb"))
MAX_MARKDOWN_WORDS = 1_500


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _text(value: str | list[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _markdown_cells(nb: dict) -> list[tuple[int, str]]:
    return [(i, _text(c["source"])) for i, c in enumerate(nb["cells"]) if c["cell_type"] == "markdown"]


def markdown_words(nb: dict) -> int:
    """Whitespace-separated tokens in all markdown cells."""
    return sum(len(text.split()) for _, text in _markdown_cells(nb))


# --------------------------------------------------------------------------- length
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_words_per_notebook(path):
    words = markdown_words(_load(path))
    assert words <= MAX_MARKDOWN_WORDS, (f"{path.name} has {words:,} words of markdown (limit "
                                         f"{MAX_MARKDOWN_WORDS:,}): say it once, shorter; let the code "
                                         "and the outputs carry the detail")


# --------------------------------------------------------------------------- history
DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
HISTORY = re.compile(r"\bshipped until\b|\bused to ship\b|\bwe used to\b|\buntil recently\b"
                     r"|\b(?:previous|earlier|older) versions?\b", re.IGNORECASE)


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_no_dated_history_in_notebook_prose(path):
    found = [f"cell {i}: {m.group()!r} in …{text[max(0, m.start() - 40):m.end() + 20]!r}…"
             for i, text in _markdown_cells(_load(path))
             for pattern in (DATE, HISTORY) for m in pattern.finditer(text)]
    assert not found, (f"{path.name} tells the project's history in its prose (it belongs in git):\n  "
                       + "\n  ".join(found))


# --------------------------------------------------------------------------- drift between prose and outputs
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Text that carries no result: fenced code, link targets, URLs and HTML src/href attributes.
_NOT_PROSE = re.compile(r"```.*?```|\]\([^)]*\)|https?://[^\s)>\"']+|\b(?:src|href)=\"[^\"]*\"", re.DOTALL)
#: A fraction such as 34/34, not part of a path (a/1/2, 2024/05/x) or a decimal.
FRACTION = re.compile(r"(?<![\w/.\-])(\d+)/(\d+)(?![\w/]|\.\d)")
#: A p-value as the prose writes it: p = 0.18, p=0.031, p = 6.1e-05.
P_VALUE = re.compile(r"\bp\s*=\s*(\d+(?:\.\d+)?(?:e-?\d+)?)")
#: "5 of 40", "2 of the 6", "344 of 430": a count out of a total (a leading 0 is a notebook number: 03, 05).
K_OF_N = re.compile(r"(?<![\w/.,])(?!0\d)(\d[\d,]*) of (?:the |its |their |all )?"
                    r"(\d+(?:,\d{3})*)(?!\w|[.,]\d)")
#: A count of answers in a sentence about reusing or generating them: "172 prompt-only and RAG answers",
#: "the other 258 were generated", "86 generated".
ANSWER_COUNT = re.compile(r"(?<![\w/.,])(?!0\d)(\d[\d,]*)(?=(?: [\w'-]+){0,4} answers\b"
                          r"| (?:answers? )?(?:were |are )?(?:reused|replayed|generated)\b)")
_ABOUT_REUSE = re.compile(r"\b(?:reused|replayed|generated|generation cache)\b")
_SENTENCE_END = re.compile(r"[.!?](?=\s)|\n")


def output_text(nb: dict) -> str:
    """The text outputs of every code cell (streams and text/* data; images skipped), concatenated."""
    texts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            if "text" in out:
                texts.append(_text(out["text"]))
            texts += [_text(v) for mime, v in out.get("data", {}).items()
                      if mime.startswith("text/") and isinstance(v, str | list)]
    return _ANSI.sub("", "\n".join(texts))


def _number(n: str) -> str:
    """A number as a token: not a piece of a longer number (0.18 is not in 0.183, 40 is not in 140)."""
    return rf"(?<![\d.,]){re.escape(n)}(?![\d]|[.,]\d)"


def _printed(kind: str, m: re.Match, outputs: str) -> bool:
    if kind == "fraction":
        return re.search(rf"(?<![\d/]){re.escape(m.group(0))}(?![\d/])", outputs) is not None
    if kind == "count out of a total":
        k, n = (_number(g) for g in m.groups())
        return re.search(rf"{k}(?: of (?:the |its |their |all )?|/){n}", outputs) is not None
    return re.search(_number(m.group(1)), outputs) is not None  # a p-value, a count of answers: the number


def _sentence(text: str, m: re.Match) -> str:
    start = max((e.end() for e in _SENTENCE_END.finditer(text, 0, m.start())), default=0)
    end = next((e.start() for e in _SENTENCE_END.finditer(text, m.end())), len(text))
    return text[start:end]


def prose_drift(nb: dict) -> list[str]:
    """One line per result-shaped number in the markdown that no code cell's output prints.

    Result-shaped: a fraction (``30/34``), a p-value (``p = 0.18``), a count out of a total (``5 of 40``)
    and a count of answers (``258 were generated``). Percentages are left alone: prose uses them freely."""
    outputs = output_text(nb)
    found = []
    for index, source in _markdown_cells(nb):
        prose = _NOT_PROSE.sub(lambda m: " " * len(m.group()), source)  # same length: positions stay
        for kind, pattern in (("fraction", FRACTION), ("p-value", P_VALUE), ("count out of a total", K_OF_N),
                              ("count of answers", ANSWER_COUNT)):
            for m in pattern.finditer(prose):
                if kind == "count of answers" and not _ABOUT_REUSE.search(_sentence(prose, m)):
                    continue
                if not _printed(kind, m, outputs):
                    context = " ".join(prose[max(0, m.start() - 30):m.end() + 30].split())
                    found.append(f"cell {index}: {kind} {m.group(0)!r} is printed by no cell: …{context}…")
    return found


def _notebook(markdown: str, printed: str) -> dict:
    return {"cells": [
        {"cell_type": "code", "source": ["print(result)"],
         "outputs": [{"output_type": "stream", "name": "stdout", "text": [printed]}]},
        {"cell_type": "markdown", "source": [markdown]},
    ]}


def test_prose_drift_finds_a_planted_contradiction():
    printed = ("accuracy 88% (30/34, 95% CI 73%–95%); exact McNemar p = 0.18, n = 34\n"
               "generation cache: 344 of 430 answers reused, 86 generated")
    (finding,) = prose_drift(_notebook("The reader answered **34/34** of the check questions.", printed))
    assert finding.startswith("cell 1: fraction '34/34'") and "answered **34/34** of the check" in finding
    assert prose_drift(_notebook("The reader answered **30/34** of the check questions.", printed)) == []
    assert prose_drift(_notebook("Not distinguishable (p = 0.18).", printed)) == []
    assert len(prose_drift(_notebook("Not distinguishable (p = 0.81, or p=0.1).", printed))) == 2
    assert prose_drift(_notebook("This run reused 344 of 430 answers; 86 generated.", printed)) == []
    assert len(prose_drift(_notebook("It abstained on 5 of 40, and on 2 of the 6 others.", printed))) == 2
    assert prose_drift(_notebook("Batches of 8 gave the same answers.", printed)) == []  # no count of answers
    stale = prose_drift(_notebook("It reused 172 prompt-only and RAG answers; the other 258 were generated.",
                                  printed))
    assert [f.split(":")[1] for f in stale] == [" count of answers '172' is printed by no cell",
                                               " count of answers '258' is printed by no cell"], stale


def test_prose_drift_skips_links_paths_and_notebook_numbers():
    prose = ("See [the run](https://example.org/runs/12/34), ![plot](images/1/2.png), "
             "`results/2024/05/x.csv` and <img src=\"img/3/4.png\">. Notebook 03 generated them; "
             "05 reused 03's answers.")
    assert prose_drift(_notebook(prose, "nothing numeric")) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_result_numbers_in_prose_are_printed_by_a_cell(path):
    found = prose_drift(_load(path))
    assert not found, (f"{path.name}: the prose states results its outputs do not show (write the printed "
                       "number, or point to the cell that prints it):\n  " + "\n  ".join(found))


def test_the_few_shot_baseline_of_05_uses_the_number_of_examples_chosen_on_dev():
    """05's break-even is against the base model with worked examples; how many is chosen on dev
    (benchmarks/shots_on_dev.py), so the baseline is not padded with examples it does not need."""
    chosen = json.loads((ROOT / "benchmarks" / "shots_on_dev.json").read_text(encoding="utf-8"))["chosen"]
    nb = json.loads((ROOT / "notebooks" / "05_head_to_head.ipynb").read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert re.search(rf"^N_SHOTS = {chosen}\b", code, re.M), f"05 must set N_SHOTS = {chosen} (shots_on_dev.json)"
