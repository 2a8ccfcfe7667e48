"""One true number: the handouts (AGENDA, INSTRUCTOR, CLAIMS, MONDAY) retype no measured number of their own.

Every result-shaped number in their prose (k/n, p-values, signed point differences, ×-factors, seconds) must
occur in what the workbook committed: the outputs of the notebooks and solutions, or the benchmark files. A
number that is only in a handout goes stale the day a notebook is re-run; say it in words and point to the
section that prints it instead. Tables generated between ``<!-- x:start -->`` and ``<!-- x:end -->`` are
checked by test_docs.py against their benchmark and skipped here.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HANDOUTS = ("AGENDA.md", "INSTRUCTOR.md", "CLAIMS.md", "MONDAY.md")

GENERATED = re.compile(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->", re.S)
NOT_PROSE = re.compile(r"```.*?```|`[^`\n]*`|\]\([^)\s]*\)|https?://\S+", re.S)  # code, link targets, URLs
NUMBER = r"\d+(?:\.\d+)?"
SHAPES = {  # kind -> pattern whose group "n" is the number to look up
    # k/n, but not notebook pairs such as "03/05": a result is never zero-padded
    "fraction": re.compile(r"(?<![\w/.])(?P<n>(?!0\d)\d+/(?!0\d)\d+)(?![\w/]|\.\d)"),
    "p-value": re.compile(rf"\bp ?[=≈] ?(?P<n>{NUMBER}(?:e-?\d+)?)"),
    "points": re.compile(rf"(?<![\w.])(?P<n>[+\-−] ?{NUMBER}) points?\b"),
    "factor": re.compile(rf"(?<![\w.])(?P<n>{NUMBER})[×x](?![\w×])"),
    "seconds": re.compile(rf"(?<![\w.])(?P<n>{NUMBER}) ?(?:s|seconds)\b"),
}
# a progress bar's "0/40 [00:00<?, ?it/s]" is no result
PROGRESS_BAR = re.compile(r"\d+%\|[^|\n]*\| *\d+/\d+ \[[^\]\n]*\]")


def _blank(match: re.Match) -> str:
    """The same number of characters, so positions in the blanked text are positions in the original."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _findings(text: str) -> list[tuple[str, str, int]]:
    """(kind, matched text, position) of each result-shaped number in the prose of a handout."""
    prose = NOT_PROSE.sub(_blank, GENERATED.sub(_blank, text))
    found = [(kind, m.group(0), m.start()) for kind, shape in SHAPES.items() for m in shape.finditer(prose)]
    return sorted(found, key=lambda f: f[2])


def measured_numbers(text: str) -> list[str]:
    """The result-shaped numbers of a handout's prose, outside generated blocks, code and link targets:
    k/n fractions, p-values, signed point differences, ×-factors and seconds, as written."""
    return [matched for _, matched, _ in _findings(text)]


def _needle(kind: str, matched: str) -> re.Pattern:
    """What must occur in the committed outputs for ``matched`` to be a number they printed. p-values and
    points compare the number itself (with its sign for points, ``−`` and ``-`` alike); fractions, factors and
    seconds the number with its unit."""
    number = SHAPES[kind].search(matched).group("n").replace("−", "-").replace(" ", "")
    end = r"(?![\d/]|\.\d)"
    if kind == "fraction":
        k, n = number.split("/")
        return re.compile(rf"(?<![\d/.]){k} ?/ ?{n}{end}")
    if kind == "points":
        return re.compile(rf"(?<![\w.]){re.escape(number)}{end}")
    if kind == "factor":
        return re.compile(rf"(?<![\w.]){re.escape(number)} ?[×x](?!\w)")
    if kind == "seconds":
        return re.compile(rf"(?<![\w.]){re.escape(number)} ?(?:s|seconds|sec)\b")
    return re.compile(rf"(?<![\w.]){re.escape(number)}{end}")


def _notebook_outputs(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    texts = []
    for cell in cells:
        for output in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            for text in (output.get("text"), output.get("data", {}).get("text/plain")):
                if text:
                    texts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(texts)


@lru_cache(maxsize=1)
def committed_output_text(root: Path = ROOT) -> str:
    """Everything the workbook printed or measured and committed: the text and text/plain outputs of the code
    cells of notebooks/*.ipynb and solutions/*.ipynb, and the benchmark results under benchmarks/ (every
    .json below it, the .csv files at its top)."""
    notebooks = sorted(root.glob("notebooks/*.ipynb")) + sorted(root.glob("solutions/*.ipynb"))
    benchmarks = sorted((root / "benchmarks").rglob("*.json")) + sorted((root / "benchmarks").glob("*.csv"))
    texts = [_notebook_outputs(p) for p in notebooks] + [p.read_text(encoding="utf-8") for p in benchmarks]
    return PROGRESS_BAR.sub(" ", "\n".join(texts)).replace("−", "-")


def stale_numbers(text: str, outputs: str, name: str = "") -> list[str]:
    """Each measured number of ``text`` that ``outputs`` does not contain, as 'name: number | context'."""
    outputs = outputs.replace("−", "-")
    missing = []
    for kind, matched, at in _findings(text):
        if not _needle(kind, matched).search(outputs):
            context = " ".join(text[max(at - 30, 0) : at + len(matched) + 30].split())
            missing.append(f"{name}: {matched!r} ({kind}) | …{context}…")
    return missing


@pytest.mark.parametrize("handout", HANDOUTS)
def test_every_measured_number_in_the_handouts_is_in_the_committed_outputs(handout):
    text = (ROOT / "docs" / handout).read_text(encoding="utf-8")
    stale = stale_numbers(text, committed_output_text(), f"docs/{handout}")
    assert not stale, ("numbers no committed output prints; say them in words and point to the section that "
                       "prints them, or copy the number the notebook prints now:\n" + "\n".join(stale))


def test_the_checker_catches_a_planted_stale_number():
    outputs = "accuracy: LoRA + RAG 43% vs RAG 20%, +24 points (exact McNemar p = 0.00012, n = 76)"
    planted = "The reader beats RAG by +14 points, p = 0.0074, on the test split."
    assert measured_numbers(planted) == ["+14 points", "p = 0.0074"]
    stale = stale_numbers(planted, outputs, "planted")
    assert len(stale) == 2 and "'+14 points'" in stale[0] and "'p = 0.0074'" in stale[1], stale
    assert not stale_numbers("The reader beats RAG by +24 points (p = 0.00012).", outputs)


def test_the_checker_reads_every_shape_and_skips_what_is_not_prose():
    text = ("12/40 right, p=0.031, −15 points, 4.0× faster, 1.69x, 17.41 s and 0.59 s; "
            "a 3 × 3 table, [a link](../data/1/2.md), `k=3/4`, SmolLM2's answer\n"
            "<!-- timings:start -->\n| 00 | 68 s | 1 / 0 |\n<!-- timings:end -->\n")
    assert measured_numbers(text) == ["12/40", "p=0.031", "−15 points", "4.0×", "1.69x", "17.41 s", "0.59 s"]
    outputs = "12/40, p = 0.031, -15 points, 4.0x, 1.69x, 17.41 s, 0.59 s"
    assert not stale_numbers(text, outputs)
    assert [s.split("'")[1] for s in stale_numbers(text, "12/400, 0.0312, +15 points, 14.0x, 0.591 s")] == \
        measured_numbers(text)
