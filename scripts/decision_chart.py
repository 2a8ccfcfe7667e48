#!/usr/bin/env python3
"""Draw the one-page decision chart (prompting → RAG → LoRA + RAG) from the last run's verdict tables.

Notebooks 01, 03, 04 and 05 end with a verdict table (``helpers.uncertainty.verdict_table``) saved as
``results/NN_verdicts.csv``, one row per claim (``C2  few-shot vs instruction, ...``). This script reads
them, picks the rows that bear on each step of the chart by claim id (the first word of the claim,
``C3``) and a keyword, and writes each one next to its box: the effect in percentage points with its
paired 95% CI, n, p and the verdict (holds: green, not distinguishable: grey, contradicted: red). A
missing table or row reads "not measured yet (run make run)", so the chart can be drawn at any time::

    python scripts/decision_chart.py                      # results/ -> docs/images/decision_chart.png
    python scripts/decision_chart.py --results DIR --out PATH

``make chart`` runs it; run it again after ``make run`` so the chart shows the new numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # a file, never a window: the script runs headless (make chart, CI)

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.backends.backend_agg import RendererAgg  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Polygon  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "images" / "decision_chart.png"
NOT_MEASURED = "not measured yet (run make run)"

HOLDS, UNCLEAR, CONTRADICTED, MISSING = "holds", "not distinguishable", "contradicted", "not measured"
COLORS = {HOLDS: "#1a7f37", UNCLEAR: "#6e7781", CONTRADICTED: "#cf222e", MISSING: "#8c959f"}
INK, FAINT = "#1f2328", "#57606a"

# Page geometry, in inches: A4 portrait at 200 dpi is 1600 × 2263 px.
WIDTH, A4_HEIGHT, DPI = 8.0, 8.0 * 297 / 210, 200
MARGIN = 0.35
FLOW_X, FLOW_W = MARGIN, 2.75  # the flowchart's column
SIDE_X = FLOW_X + FLOW_W + 0.25  # the evidence column
SIDE_W = WIDTH - MARGIN - SIDE_X
PAD = 0.1


@dataclass(frozen=True)
class Pick:
    """Which verdict row backs a statement: the first row, in the tables of ``notebooks`` (in that
    order), whose claim id (first word) is ``claim_id`` and whose wording contains ``keyword`` but
    none of ``exclude`` (all case-insensitive). ``fallback`` names it while it is not measured."""

    notebooks: tuple[str, ...]
    claim_id: str
    keyword: str
    fallback: str
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence as the chart prints it: the claim's wording (``label``), the measured
    numbers (``detail``: effect, CI, n, p, or "not measured yet"), the verdict word (or
    ``"not measured"``) and where it came from (``"05 · C3"``)."""

    label: str
    detail: str
    verdict: str
    source: str

    @property
    def color(self) -> str:
        """Green for "holds", red for "contradicted", grey otherwise."""
        return COLORS.get(self.verdict, COLORS[UNCLEAR])

    @property
    def text(self) -> str:
        """The whole annotation on one line: ``"label: holds, +20 points (95% CI ...), n = 76, p = ..."``."""
        shown = NOT_MEASURED if self.verdict == MISSING else f"{self.verdict}, {self.detail}"
        return f"{self.label}: {shown}"


# What backs each part of the chart. Claim ids are the notebooks' (docs/CLAIMS.md).
PROMPTING = [
    Pick(("01",), "C2", "chat template", "chat template vs raw completion"),
    Pick(("01",), "C2", "few-shot vs instruction", "few-shot vs instruction"),
    Pick(("01",), "C2", "JSON few-shot", "few-shot JSON vs JSON instruction"),
    Pick(("01",), "C2", "step by step", "step by step vs direct"),
]
RETRIEVAL = [
    Pick(("01",), "C3", "gold section", "the right section in the prompt vs closed-book"),
    Pick(("05", "03"), "C3", "accuracy", "accuracy, RAG vs prompt-only (test)"),
    Pick(("06",), "C3", "accuracy", "accuracy, RAG vs prompt-only (06: documents never tuned on)"),
]
BEHAVIOUR = [
    Pick(("04",), "C6", "valid JSON", "valid JSON, LoRA vs base (dev)"),
    Pick(("05",), "C6", "valid JSON", "valid JSON, LoRA + RAG vs RAG with the best prompt"),
    Pick(("05",), "C7", "source cited", "correct source cited, LoRA + RAG vs RAG with the best prompt"),
    Pick(("05",), "C7", "accuracy, LoRA + RAG vs RAG", "accuracy, LoRA + RAG vs RAG",
         exclude=("few-shot", "best prompt", "check set")),
    Pick(("05",), "C7", "best prompt", "accuracy, LoRA + RAG vs RAG with the best prompt"),
    Pick(("05",), "C7", "check set", "accuracy on the check set (never tuned on), LoRA + RAG vs RAG",
         exclude=("few-shot",)),
    Pick(("06",), "C7", "accuracy, LoRA + RAG vs RAG", "accuracy, LoRA + RAG vs RAG (06: documents never tuned on)"),
    Pick(("06",), "C7", "source cited", "correct source cited, LoRA + RAG vs RAG (06: documents never tuned on)"),
]
KNOWLEDGE = [
    Pick(("05",), "C1", "never trained", "facts never trained, RAG vs LoRA"),
    Pick(("05",), "C1", "paraphrase", "trained facts in new words, LoRA vs RAG"),
    Pick(("03", "05"), "C4", "new fact", "says the new fact after re-indexing vs before"),
]


def load_verdicts(results_dir: Path) -> dict[str, pd.DataFrame]:
    """Every ``NN_verdicts.csv`` under ``results_dir``, keyed by its notebook number ``"NN"`` (the files
    ``scripts/update_readme.py`` puts in the README). Unreadable files are skipped with a warning."""
    tables = {}
    for path in sorted(Path(results_dir).glob("[0-9][0-9]_verdicts.csv")):
        try:
            table = pd.read_csv(path)
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            print(f"warning: skipping {path}: {err}", file=sys.stderr)
            continue
        if "claim" not in table.columns:
            print(f"warning: skipping {path}: no 'claim' column", file=sys.stderr)
            continue
        tables[path.name[:2]] = table
    return tables


def load_run_info(results_dir: Path) -> str:
    """One line on what was measured (profile, model, dates, notebooks) from the verdict tables'
    ``.meta.json`` files; empty when there are none."""
    metas = {}
    for path in sorted(Path(results_dir).glob("[0-9][0-9]_verdicts.meta.json")):
        try:
            metas[path.name[:2]] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    if not metas:
        return ""

    def values(key: str) -> str:
        return " / ".join(sorted({str(m[key]) for m in metas.values() if m.get(key)})) or "?"

    days = sorted({str(m["time"])[:10] for m in metas.values() if m.get("time")})
    when = (days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}") if days else "?"
    return (f"Measured: profile {values('profile')}, {values('llm')}, notebooks {', '.join(metas)} "
            f"run {when} (commit {values('git_commit')})")


def find_row(tables: dict[str, pd.DataFrame], pick: Pick) -> tuple[str, pd.Series] | None:
    """The notebook and verdict row ``pick`` describes, or None when no table has it."""
    keyword, exclude = pick.keyword.lower(), [e.lower() for e in pick.exclude]
    for notebook in pick.notebooks:
        table = tables.get(notebook)
        if table is None:
            continue
        for _, row in table.iterrows():
            words = str(row["claim"]).split(maxsplit=1)
            if len(words) < 2 or words[0] != pick.claim_id:
                continue
            text = words[1].lower()
            if keyword in text and not any(e in text for e in exclude):
                return notebook, row
    return None


def points(x: float) -> str:
    """A difference of rates (0.197) as signed percentage points (``+20``); zero without a sign."""
    value = round(float(x) * 100)
    return "0" if value == 0 else f"{value:+d}"


def describe(row: pd.Series) -> str:
    """The measured numbers of a verdict row as the chart prints them (the verdict word goes beside):
    ``"+20 points (95% CI +11 to +29), n = 76, p = 6.1e-05"``."""
    return (f"{points(row['effect'])} points (95% CI {points(row['CI low'])} to "
            f"{points(row['CI high'])}), n = {int(row['n'])}, p = {float(row['p']):.2g}")


def evidence(tables: dict[str, pd.DataFrame], pick: Pick) -> Evidence:
    """The evidence line for ``pick``: the measured row, or "not measured yet" when it is missing
    or incomplete."""
    found = find_row(tables, pick)
    if found is not None:
        notebook, row = found
        fields = ["effect", "CI low", "CI high", "n", "p", "verdict"]
        if all(f in row.index for f in fields) and not row[fields].isna().any():
            label = str(row["claim"]).split(maxsplit=1)[1].strip()
            return Evidence(label, describe(row), str(row["verdict"]), f"{notebook} · {pick.claim_id}")
    return Evidence(pick.fallback, NOT_MEASURED, MISSING, "/".join(pick.notebooks) + f" · {pick.claim_id}")


# --- drawing ---------------------------------------------------------------------------------------
# Coordinates are inches from the page's top-left corner (y grows downwards); font sizes are points.

_RENDERER = RendererAgg(10, 10, DPI)  # measures text at the resolution it is drawn at, for wrapping


def text_width(text: str, size: float, bold: bool = False, italic: bool = False) -> float:
    """Width in inches of ``text`` on one line at ``size`` points (the font matplotlib will draw it in)."""
    font = FontProperties(size=size, weight="bold" if bold else "normal", style="italic" if italic else "normal")
    return _RENDERER.get_text_width_height_descent(text, font, ismath=False)[0] / DPI


def wrap(text: str, width: float, size: float, bold: bool = False, italic: bool = False) -> list[str]:
    """``text`` broken into lines no wider than ``width`` inches at ``size`` points."""
    lines: list[str] = []
    for word in text.split():
        if lines and text_width(f"{lines[-1]} {word}", size, bold, italic) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines or [""]


def line_height(size: float) -> float:
    """Inches from one text line to the next at font size ``size`` (points)."""
    return size * 1.3 / 72


def write(ax: Axes, x: float, y: float, lines: Sequence[str], size: float, **kw: Any) -> float:
    """Draw ``lines`` one below the other from ``y`` (their top) down; return the y below them."""
    for line in lines:
        ax.text(x, y, line, fontsize=size, va="top", **kw)
        y += line_height(size)
    return y


def rounded(ax: Axes, x: float, y: float, w: float, h: float, radius: float, **kw: Any) -> None:
    """A rounded rectangle with its top-left corner at ``(x, y)``."""
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={radius}", **kw))


EV_SIZE, EV_HEAD, SRC_SIZE = 7.6, 8.3, 6.4
EV_INDENT, EV_GAP = 0.15, 0.05


def _panel_lines(title: str, items: Sequence[Evidence], width: float
                 ) -> tuple[list[str], list[tuple[list[str], list[str]]]]:
    """The wrapped title, and per item its wrapped label (beside the source) and numbers (beside the verdict)."""
    inner = width - 2 * PAD - EV_INDENT
    src = max((text_width(i.source, SRC_SIZE) for i in items), default=0) + 0.1
    return (wrap(title, width - 2 * PAD, EV_HEAD, bold=True),
            [(wrap(i.label, inner - src, EV_SIZE),
              wrap(i.detail, inner if i.verdict == MISSING else inner - text_width(i.verdict, EV_SIZE, bold=True) - 0.1,
                   EV_SIZE, italic=i.verdict == MISSING))
             for i in items])


def panel_height(title: str, items: Sequence[Evidence], width: float) -> float:
    """Height of an evidence panel (:func:`draw_panel`) ``width`` inches wide."""
    head, body = _panel_lines(title, items, width)
    return (2 * PAD + len(head) * line_height(EV_HEAD) + 0.03
            + sum((len(a) + len(b)) * line_height(EV_SIZE) + EV_GAP for a, b in body) - EV_GAP)


def draw_panel(ax: Axes, x: float, y: float, width: float, title: str, items: Sequence[Evidence],
               edge: str, face: str = "#f6f8fa") -> float:
    """An evidence panel with its top-left at ``(x, y)``: a title, then per item a verdict-coloured square,
    the claim's wording (its notebook and claim id at the right), and under it the numbers with the
    verdict word at the right, both in the verdict's colour. Returns its height."""
    height = panel_height(title, items, width)
    rounded(ax, x, y, width, height, 0.06, facecolor=face, edgecolor=edge, linewidth=1.0)
    head, body = _panel_lines(title, items, width)
    cy = write(ax, x + PAD, y + PAD, head, EV_HEAD, color=INK, fontweight="bold") + 0.03
    right, tx = x + width - PAD, x + PAD + EV_INDENT
    for item, (label, detail) in zip(items, body):
        missing = item.verdict == MISSING
        rounded(ax, x + PAD, cy + 0.022, 0.082, 0.082, 0.015, facecolor=item.color, edgecolor="none")
        ax.text(right, cy + 0.012, item.source, fontsize=SRC_SIZE, va="top", ha="right", color=FAINT)
        cy = write(ax, tx, cy, label, EV_SIZE, color=FAINT if missing else INK)
        if not missing:
            ax.text(right, cy, item.verdict, fontsize=EV_SIZE, va="top", ha="right", color=item.color,
                    fontweight="bold")
        cy = write(ax, tx, cy, detail, EV_SIZE, color=item.color, fontstyle="italic" if missing else "normal") + EV_GAP
    return height


BOX_SIZE, SUB_SIZE, Q_SIZE = 11.0, 7.8, 9.0
Q_TIP = 0.22


def action_height(title: str, sub: str, width: float) -> float:
    """Height of an action box (:func:`draw_action`)."""
    return (2 * PAD + len(wrap(title, width - 2 * PAD, BOX_SIZE, bold=True)) * line_height(BOX_SIZE)
            + (len(wrap(sub, width - 2 * PAD, SUB_SIZE)) * line_height(SUB_SIZE) + 0.03 if sub else 0))


def draw_action(ax: Axes, x: float, y: float, width: float, title: str, sub: str, face: str, edge: str) -> float:
    """A rounded box with a bold title and a smaller line under it, centred; returns its height."""
    height = action_height(title, sub, width)
    rounded(ax, x, y, width, height, 0.1, facecolor=face, edgecolor=edge, linewidth=1.8)
    cy = write(ax, x + width / 2, y + PAD, wrap(title, width - 2 * PAD, BOX_SIZE, bold=True), BOX_SIZE,
               ha="center", color=INK, fontweight="bold")
    if sub:
        write(ax, x + width / 2, cy + 0.03, wrap(sub, width - 2 * PAD, SUB_SIZE), SUB_SIZE, ha="center", color=FAINT)
    return height


def question_height(text: str, width: float) -> float:
    """Height of a decision (:func:`draw_question`)."""
    return 2 * PAD + len(wrap(text, width - 2 * Q_TIP - 0.1, Q_SIZE, bold=True)) * line_height(Q_SIZE)


def draw_question(ax: Axes, x: float, y: float, width: float, text: str) -> float:
    """A decision: a hexagon (pointed at left and right) around ``text``; returns its height."""
    height = question_height(text, width)
    ax.add_patch(Polygon([(x, y + height / 2), (x + Q_TIP, y), (x + width - Q_TIP, y), (x + width, y + height / 2),
                          (x + width - Q_TIP, y + height), (x + Q_TIP, y + height)],
                         closed=True, facecolor="#fff8c5", edgecolor="#9a6700", linewidth=1.6))
    write(ax, x + width / 2, y + PAD, wrap(text, width - 2 * Q_TIP - 0.1, Q_SIZE, bold=True), Q_SIZE, ha="center",
          color=INK, fontweight="bold")
    return height


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], label: str = "",
          color: str = "#424a53", label_side: str = "right") -> None:
    """An arrow from ``start`` to ``end`` with an optional label beside its middle."""
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "lw": 1.6, "color": color, "mutation_scale": 15,
                            "shrinkA": 0, "shrinkB": 0})
    if label:
        dx = 0.07 if label_side == "right" else -0.07
        ax.text((start[0] + end[0]) / 2 + dx, (start[1] + end[1]) / 2, label, fontsize=8.5, fontweight="bold",
                color=color, va="center", ha="left" if label_side == "right" else "right")


PILL_SIZE = 7.8


def pill_height(text: str, width: float) -> float:
    return len(wrap(text, width - 2 * 0.08, PILL_SIZE)) * line_height(PILL_SIZE) + 2 * 0.06


def draw_pill(ax: Axes, x: float, y: float, width: float, text: str) -> float:
    """A small dashed terminal box ("stop here") with its top-left at ``(x, y)``; returns its height."""
    height = pill_height(text, width)
    rounded(ax, x, y, width, height, 0.1, facecolor="#ffffff", edgecolor="#8c959f", linewidth=1.0, linestyle="--")
    write(ax, x + width / 2, y + 0.06, wrap(text, width - 2 * 0.08, PILL_SIZE), PILL_SIZE, ha="center", color=FAINT)
    return height


def draw_legend(ax: Axes, y: float) -> float:
    """The verdict colours in a row (two if they do not fit); returns the y below them."""
    size, x = 7.4, MARGIN
    for verdict, text in [(HOLDS, "holds: separated as claimed, p < 0.05"),
                          (UNCLEAR, "not distinguishable: this n cannot tell"),
                          (CONTRADICTED, "contradicted: the other way"),
                          (MISSING, "not measured yet")]:
        width = 0.13 + text_width(text, size)
        if x + width > WIDTH - MARGIN:
            x, y = MARGIN, y + line_height(size) + 0.03
        rounded(ax, x, y + 0.02, 0.082, 0.082, 0.015, facecolor=COLORS[verdict], edgecolor="none")
        ax.text(x + 0.13, y, text, fontsize=size, va="top", color=INK)
        x += width + 0.12
    return y + line_height(size)


def draw_chart(tables: dict[str, pd.DataFrame], out: Path, run_info: str = "") -> Path:
    """Draw the decision chart with the evidence in ``tables`` (:func:`load_verdicts`) into ``out`` (PNG)."""
    fig = plt.figure(figsize=(WIDTH, A4_HEIGHT), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()

    y = MARGIN
    ax.text(MARGIN, y, "Prompting, RAG or fine-tuning?", fontsize=17, fontweight="bold", va="top", color=INK)
    y += line_height(17) + 0.02
    ax.text(MARGIN, y, "A decision chart drawn from this workbook's own measurements", fontsize=10.5, va="top",
            color=FAINT)
    y += line_height(10.5) + 0.03
    info = run_info or ("Measured: the verdict tables have no run details (.meta.json)." if tables else
                        "No verdict tables in results/ yet: run make run, then make chart.")
    y = write(ax, MARGIN, y, wrap(info, WIDTH - 2 * MARGIN, 7.4), 7.4, color=FAINT)
    y = draw_legend(ax, y + 0.06) + 0.25

    # Two columns: the flowchart on the left, the evidence behind each step on the right. A panel is
    # drawn beside its step; the decisions between the steps lie beside the end of the panel before.
    cx = FLOW_X + FLOW_W / 2
    steps = [
        ("Start: prompt engineering", "a clear instruction, the chat template, a few examples: cheapest, try it first",
         "#ddf4ff", "#0969da", "Prompting (claim C2): a prompting technique vs the plain prompt", PROMPTING,
         "Does the model need your own, changing documents, or must it show where an answer came from?",
         "No: stay with prompting"),
        ("RAG", "retrieve the relevant chunks of your documents and put them in the prompt",
         "#dafbe1", "#1a7f37", "Retrieval (claim C3): the documents in the prompt vs none",
         RETRIEVAL, "Is behaviour or format still wrong after prompting (JSON, citations, abstaining)?",
         "No: RAG with the best prompt"),
        ("Fine-tune the behaviour (LoRA), keep retrieving the knowledge: LoRA + RAG",
         "a small adapter learns the format and the citing; the facts still come from the documents",
         "#fbefff", "#8250df", "Behaviour (claims C6 format, C7 LoRA + RAG): the adapter vs the base model, "
         "RAG or the best prompt", BEHAVIOUR, "", ""),
    ]
    flow_y = panel_y = y
    for title, sub, face, edge, panel_title, picks, question, no_text in steps:
        top = flow_y
        h_box = draw_action(ax, FLOW_X, top, FLOW_W, title, sub, face, edge)
        mid = top + h_box / 2
        items = [evidence(tables, p) for p in picks]
        h_panel = panel_height(panel_title, items, SIDE_W)
        # As high as the panel before allows, but reaching down past the middle of its box.
        p_top = max(panel_y, mid + 0.2 - h_panel)
        draw_panel(ax, SIDE_X, p_top, SIDE_W, panel_title, items, edge)
        link = min(max(mid, p_top + 0.2), p_top + h_panel - 0.2)
        ax.plot([FLOW_X + FLOW_W, SIDE_X], [mid, link], color=edge, lw=1.0, ls=":")
        panel_y = p_top + h_panel + 0.16
        flow_y = top + h_box
        if question:
            q_top = flow_y + 0.28
            arrow(ax, (cx, flow_y), (cx, q_top))
            h_q = draw_question(ax, FLOW_X, q_top, FLOW_W, question)
            # "no" leaves the decision's lower right edge and stops in a dashed box; "yes" goes on down.
            no_x, pill_x = FLOW_X + FLOW_W - Q_TIP - 0.3, cx + 0.25
            pill_top = q_top + h_q + 0.2
            arrow(ax, (no_x, q_top + h_q), (no_x, pill_top), "no")
            h_pill = draw_pill(ax, pill_x, pill_top, FLOW_X + FLOW_W - pill_x, no_text)
            flow_y = max(pill_top + h_pill + 0.08, q_top + h_q + 0.45)
            arrow(ax, (cx, q_top + h_q), (cx, flow_y), "yes", label_side="left")
    y = max(flow_y, panel_y - 0.16) + 0.25

    # The side note, across the page: what not to fine-tune for.
    inner_x, inner_w = MARGIN + PAD, WIDTH - 2 * MARGIN - 2 * PAD
    title_lines = wrap("Side note: fine-tuning to add knowledge: don't", inner_w, 11, bold=True)
    sub_lines = wrap("An adapter trained on facts knows only those facts, and a changed fact means training again; "
                     "RAG answers from what the documents say now: put the facts in the documents and re-index "
                     "(claims C1, C4).",
                     inner_w, 8.0)
    panel_title = "Knowledge (claims C1, C4): a LoRA trained on the facts vs RAG, and re-indexing a changed document"
    knowledge = [evidence(tables, p) for p in KNOWLEDGE]
    p_top = y + PAD + len(title_lines) * line_height(11) + 0.03 + len(sub_lines) * line_height(8.0) + 0.08
    note_h = p_top - y + panel_height(panel_title, knowledge, inner_w) + PAD
    rounded(ax, MARGIN, y, WIDTH - 2 * MARGIN, note_h, 0.1, facecolor="#ffebe9", edgecolor="#cf222e", linewidth=1.8)
    cy = write(ax, inner_x, y + PAD, title_lines, 11, color="#a40e26", fontweight="bold")
    write(ax, inner_x, cy + 0.03, sub_lines, 8.0, color=INK)
    draw_panel(ax, inner_x, p_top, inner_w, panel_title, knowledge, "#cf222e", face="#ffffff")
    y += note_h + 0.18

    footer = ("Effect = a − b in percentage points with its paired bootstrap 95% CI; n = questions both systems were "
              "asked; p = exact McNemar test on the questions only one got right. Small model, small n: grey means "
              "this run cannot tell, not that there is no difference. Re-draw after each run: make run, then "
              "make chart (scripts/decision_chart.py); every verdict is in README.md (make readme).")
    y = write(ax, MARGIN, y, wrap(footer, WIDTH - 2 * MARGIN, 7.0), 7.0, color=FAINT)

    height = max(A4_HEIGHT, y + MARGIN)
    if height > A4_HEIGHT + 0.01:
        print(f"warning: the chart is {height:.1f} in tall, more than an A4 page ({A4_HEIGHT:.1f} in)", file=sys.stderr)
    fig.set_size_inches(WIDTH, height)
    ax.set_xlim(0, WIDTH)
    ax.set_ylim(height, 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, facecolor="white")
    plt.close(fig)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results", help="folder with NN_verdicts.csv")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the PNG to write")
    args = parser.parse_args(argv)
    tables = load_verdicts(args.results)
    if not tables:
        print(f"note: no NN_verdicts.csv in {args.results}: every box says '{NOT_MEASURED}'")
    out = draw_chart(tables, args.out, load_run_info(args.results))
    print(f"wrote {out} (from {len(tables)} verdict tables in {args.results})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
