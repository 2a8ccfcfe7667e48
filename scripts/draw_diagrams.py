#!/usr/bin/env python3
"""Draw the workbook's four concept diagrams, one picture per idea, for the notebooks to show.

* ``concept_rag.png``: the RAG pipeline, indexing (once) and answering (every question);
* ``concept_lora.png``: LoRA, a frozen weight ``W`` and a small trained ``B A`` beside it, with the parameter
  counts of SmolLM2-135M's query projection computed from ``d`` and ``r`` (:func:`lora_counts`);
* ``concept_raft.png``: one RAFT training example (question, oracle and distractor chunks, JSON target,
  loss on the target only) and an abstain example;
* ``concept_decision.png``: the decision flow, prompting → RAG → LoRA + RAG.

They are drawn with matplotlib only (boxes, arrows and text; no external assets, the DejaVu Sans font that
ships with matplotlib) and are deterministic: the same matplotlib version writes the same bytes twice. Each
PNG records that version (its ``Source`` text chunk); ``tests/test_diagrams.py`` compares the committed
images with freshly drawn ones, pixel by pixel, when the versions agree. A text that does not fit its box
is an error (the PNG is written all the same, to be looked at). Run it again after changing it::

    python scripts/draw_diagrams.py              # -> docs/images/concept_*.png
    python scripts/draw_diagrams.py --out DIR

Not to be confused with ``scripts/decision_chart.py`` (``docs/images/decision_chart.png``), which charts
the measured results of the last run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.offsetbox import AnnotationBbox, TextArea, VPacker
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch
from matplotlib.text import Text

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "docs" / "images"
DPI = 110

#: SmolLM2-135M: hidden size d (its query projection q_proj is d × d) and the workbook's LoRA rank and
#: alpha (``TASK_A_LORA`` in helpers/finetune.py: r = 8, alpha = 16).
HIDDEN, RANK, ALPHA = 576, 8, 16

RC = {
    "font.family": "DejaVu Sans",
    "svg.hashsalt": "llm-workbook",  # fixed ids, should anyone save an SVG
    "path.simplify": False,
    "text.antialiased": True,
}

# The palette: blue = data, orange = the model, green = trained / learned, grey = frozen or left out,
# white = a plain step of code (or a question).
INK, MUTED = "#1f2328", "#57606a"


@dataclass(frozen=True)
class Style:
    """Colours of a box: fill, border and text."""

    face: str
    edge: str
    ink: str = INK


DATA = Style("#ddf4ff", "#0969da")
MODEL = Style("#fff1e5", "#bc4c00")
TRAINED = Style("#dafbe1", "#1a7f37")
FROZEN = Style("#eaeef2", "#6e7781")
STEP = Style("#ffffff", "#57606a")
NOTE = Style("#f6f8fa", "#d0d7de", MUTED)


def lora_counts(d: int, r: int) -> tuple[int, int]:
    """The weights of a ``d × d`` matrix ``W`` and of its LoRA pair, ``A`` (``r × d``) and ``B`` (``d × r``)."""
    return d * d, 2 * r * d


def describe(artist: Text | AnnotationBbox) -> str:
    """The words of a box's text (or title and text), on one line, for an error message."""
    if isinstance(artist, Text):
        return artist.get_text().replace("\n", " / ")
    areas = artist.offsetbox.get_children()
    return " / ".join(area.get_text().replace("\n", " / ") for area in areas)


@dataclass(frozen=True)
class Box:
    """A drawn box's geometry, in inches from the lower left corner of the figure."""

    cx: float
    cy: float
    w: float
    h: float

    @property
    def left(self) -> tuple[float, float]:
        return self.cx - self.w / 2, self.cy

    @property
    def right(self) -> tuple[float, float]:
        return self.cx + self.w / 2, self.cy

    @property
    def top(self) -> tuple[float, float]:
        return self.cx, self.cy + self.h / 2

    @property
    def bottom(self) -> tuple[float, float]:
        return self.cx, self.cy - self.h / 2

    def at(self, fx: float, fy: float) -> tuple[float, float]:
        """The point at fractions ``fx``, ``fy`` of the box (0, 0: lower left; 1, 1: upper right)."""
        return self.cx - self.w / 2 + fx * self.w, self.cy - self.h / 2 + fy * self.h


@dataclass
class Canvas:
    """A figure whose data coordinates are inches (origin at the lower left), so boxes, gaps and fonts
    can be laid out together. Every text put in a box is checked to fit it when the figure is saved."""

    width: float
    height: float
    fig: Figure = field(init=False)
    _fits: list[tuple[FancyBboxPatch, Text | AnnotationBbox]] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.fig = Figure(figsize=(self.width, self.height), dpi=DPI, facecolor="white")
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_axes((0, 0, 1, 1))
        self.ax.set_xlim(0, self.width)
        self.ax.set_ylim(0, self.height)
        self.ax.set_axis_off()

    def box(self, cx: float, cy: float, w: float, h: float, text: str = "", style: Style = STEP, *,
            title: str = "", size: float = 10, weight: str = "normal", lw: float = 1.6, ls: str = "-",
            radius: float = 0.08, family: str | None = None, ha: str = "center") -> Box:
        """A rounded box centred on (``cx``, ``cy``) holding ``text`` (centred, or left-aligned with ``ha``),
        under a bold ``title`` if one is given."""
        patch = FancyBboxPatch((cx - w / 2, cy - h / 2), w, h, boxstyle=f"round,pad=0,rounding_size={radius}",
                               facecolor=style.face, edgecolor=style.edge, linewidth=lw, linestyle=ls, zorder=2)
        self.ax.add_patch(patch)
        font = {"fontsize": size, "color": style.ink, "linespacing": 1.3, **({"family": family} if family else {})}
        if title:  # title and text as one block, centred in the box
            parts = [TextArea(title, textprops={**font, "fontsize": size + 0.5, "fontweight": "bold",
                                                "multialignment": "center"})]
            if text:
                parts.append(TextArea(text, textprops={**font, "fontweight": weight, "multialignment": "center"}))
            block = AnnotationBbox(VPacker(children=parts, align="center", pad=0, sep=0.06 * DPI), (cx, cy),
                                   frameon=False, box_alignment=(0.5, 0.5), pad=0, zorder=4)
            self.ax.add_artist(block)
            self._fits.append((patch, block))
        elif text:
            x = cx if ha == "center" else cx - w / 2 + 0.1
            t = self.ax.text(x, cy, text, ha=ha, va="center", multialignment=ha, fontweight=weight, zorder=4,
                             **font)
            self._fits.append((patch, t))
        return Box(cx, cy, w, h)

    def text(self, x: float, y: float, text: str, *, size: float = 10, color: str = INK, weight: str = "normal",
             ha: str = "center", va: str = "center", style: str = "normal", family: str | None = None,
             backdrop: bool = False) -> Text:
        """Free text; ``backdrop`` puts a white patch behind it (a label on a line)."""
        kwargs = {"family": family} if family else {}
        if backdrop:
            kwargs["bbox"] = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"}
        return self.ax.text(x, y, text, fontsize=size, color=color, fontweight=weight, ha=ha, va=va,
                            fontstyle=style, zorder=5, linespacing=1.3, **kwargs)

    def arrow(self, start: tuple[float, float], end: tuple[float, float], *, color: str = INK, lw: float = 1.6,
              ls: str = "-", connection: str = "arc3", label: str = "", label_at: tuple[float, float] | None = None,
              label_size: float = 9, label_color: str | None = None, head: bool = True) -> None:
        """An arrow from ``start`` to ``end`` (exact points: no shrinking), with an optional label on a
        white backdrop at ``label_at`` (default: the middle of the straight line)."""
        style = "-|>,head_length=0.55,head_width=0.28" if head else "-"
        self.ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=16, color=color, lw=lw,
                                          linestyle=ls, connectionstyle=connection, shrinkA=0, shrinkB=0,
                                          zorder=3, capstyle="butt", joinstyle="miter"))
        if label:
            x, y = label_at or ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
            self.text(x, y, label, size=label_size, color=label_color or color, weight="bold", backdrop=True)

    def polyline(self, points: Sequence[tuple[float, float]], *, color: str = INK, lw: float = 1.6, ls: str = "-",
                 label: str = "", label_at: tuple[float, float] | None = None, label_size: float = 9,
                 label_color: str | None = None) -> None:
        """A line through ``points`` with an arrow head on its last segment (elbow connectors)."""
        xs, ys = zip(*points[:-1])
        self.ax.plot(xs, ys, color=color, lw=lw, ls=ls, zorder=3, solid_capstyle="butt",
                     solid_joinstyle="miter")
        self.arrow(points[-2], points[-1], color=color, lw=lw, ls=ls, label=label, label_at=label_at,
                   label_size=label_size, label_color=label_color)

    def legend(self, x: float, y: float, items: Sequence[tuple[Style, str]], *, size: float = 9,
               step: float = 0.3) -> None:
        """A column of colour swatches with their meaning, the first at (``x``, ``y``)."""
        for i, (style, meaning) in enumerate(items):
            yy = y - i * step
            self.ax.add_patch(FancyBboxPatch((x, yy - 0.09), 0.3, 0.18, boxstyle="round,pad=0,rounding_size=0.04",
                                             facecolor=style.face, edgecolor=style.edge, linewidth=1.4, zorder=2))
            self.text(x + 0.42, yy, meaning, size=size, color=MUTED, ha="left")

    def check_fit(self) -> list[str]:
        """The texts that overflow their box (with a small inner margin)."""
        renderer = self.fig.canvas.get_renderer()
        bad = []
        for patch, text in self._fits:
            outer = patch.get_window_extent(renderer)
            inner = text.get_window_extent(renderer)
            margin = min(4.0, 0.1 * min(outer.width, outer.height))  # pixels
            if not self.fig.bbox.contains(outer.x0, outer.y0) or not self.fig.bbox.contains(outer.x1, outer.y1):
                bad.append(f"(box off the figure) {describe(text)}")
            if (inner.x0 < outer.x0 + margin or inner.x1 > outer.x1 - margin or inner.y0 < outer.y0 + margin
                    or inner.y1 > outer.y1 - margin):
                bad.append(describe(text))
        return bad

    def save(self, path: Path) -> Path:
        """Write the PNG, deterministically; raise if a text overflows its box."""
        self.fig.canvas.draw()
        bad = self.check_fit()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fig.savefig(path, dpi=DPI, facecolor="white",
                         metadata={"Software": None, "Source": f"scripts/draw_diagrams.py, matplotlib "
                                                               f"{matplotlib.__version__}"})
        if bad:  # written all the same, to be looked at
            raise ValueError(f"{path.name}: text does not fit its box: {bad}")
        return path


# ---------------------------------------------------------------------------------------------- RAG


def draw_rag(path: Path) -> Path:
    """The RAG pipeline: indexing once (top row), answering every question (bottom row)."""
    c = Canvas(11.0, 5.6)
    c.text(0.3, 5.3, "RAG: retrieve the relevant chunks, then let the model answer from them", size=14,
           weight="bold", ha="left")
    w, gap, x0 = 1.15, 0.18, 0.3
    col = [x0 + w / 2 + i * (w + gap) for i in range(8)]

    # Indexing, once (whenever the documents change).
    c.text(0.3, 4.78, "Indexing: once, and again whenever the documents change", size=11, weight="bold",
           ha="left")
    y1, h1 = 3.95, 1.05
    docs = c.box(col[0], y1, w, h1, "markdown,\nPDF, text", DATA, title="documents", size=9)
    chunks = c.box(col[1], y1, w, h1, "markdown-aware,\n≤ 400 words", DATA, title="chunks", size=8)
    emb = c.box(col[2], y1, w, h1, "all-MiniLM-L6-v2:\n384 numbers\nper chunk", DATA, title="embeddings",
                size=8)
    index = c.box(col[3], y1, w, h1, "all the chunk\nvectors", DATA, title="FAISS index", size=9)
    for a, b in ((docs, chunks), (chunks, emb), (emb, index)):
        c.arrow(a.right, b.left)
    c.legend(col[4] + 0.25, 4.35, [(DATA, "data (documents, vectors, text)"), (MODEL, "a model runs"),
                                   (STEP, "plain code")], size=9.5)

    # Answering, every question.
    c.text(0.3, 3.05, "Answering: every question", size=11, weight="bold", ha="left")
    y2, h2 = 1.75, 1.9
    question = c.box((col[0] + col[1]) / 2, y2, 2 * w + gap, h2,
                     "\"How many days do customers\nhave to return a device?\"", DATA, title="question", size=9.5)
    embed = c.box(col[2], y2, w, h2, "384 numbers,\nlike the\nchunks", MODEL, title="embed the\nquestion", size=9)
    search = c.box(col[3], y2, w, h2, "top-k nearest\nchunks,\nk = 3", STEP, title="search\nthe index", size=9)
    prompt = c.box(col[4], y2, w, h2, "", DATA)
    gen = c.box(col[5], y2, w, h2, "SmolLM2-135M\nreads the\nprompt, writes\nthe answer", MODEL,
                title="the model\ngenerates", size=8.5)
    answer = c.box(col[6], y2, w, h2, "\"30 days\n[returns]\"", DATA, title="answer with\n[doc-id]\ncitations",
                   size=9)
    check = c.box(col[7], y2, w, h2, "is each cited\nid among the\nretrieved\nchunks?\nyes: verified\nno: invented",
                  STEP, title="check the\ncitations", size=8.5)
    for a, b in ((question, embed), (embed, search), (search, prompt), (prompt, gen), (gen, answer),
                 (answer, check)):
        c.arrow(a.right, b.left)

    # The prompt, drawn as its parts (format_passages + context_prompt, in the chat template).
    c.text(prompt.cx, prompt.cy + h2 / 2 - 0.2, "prompt", size=10, weight="bold", color=DATA.ink)
    c.text(prompt.cx, prompt.cy + h2 / 2 - 0.4, "(chat template)", size=7.5, color=MUTED)
    parts = ["[doc-id] chunk 1", "[doc-id] chunk 2", "[doc-id] chunk 3", "question", "instruction: cite,\n"
             "or \"I don't know\""]
    py = prompt.cy + h2 / 2 - 0.55
    for i, part in enumerate(parts):
        ph = 0.3 if i == len(parts) - 1 else 0.18
        style = STEP if i < 3 else NOTE
        c.box(prompt.cx, py - ph / 2, w - 0.14, ph, part, style, size=6.5 if i < 4 else 6, lw=0.8, radius=0.03)
        py -= ph + 0.05

    # The index feeds the search; the same embedding model serves both rows.
    c.arrow(index.bottom, search.top, color=DATA.edge, lw=2.0, label="the 3 nearest\nchunks",
            label_at=(index.cx, (index.bottom[1] + search.top[1]) / 2 + 0.02), label_size=8)
    c.arrow(emb.bottom, (emb.cx, embed.top[1]), color=MUTED, lw=1.0, ls=(0, (3, 3)), head=False,
            label="same model", label_at=(emb.cx, (emb.bottom[1] + embed.top[1]) / 2 + 0.02), label_size=8)
    # The check compares the cited ids with the chunks the search returned.
    low = y2 - h2 / 2 - 0.3
    c.polyline([search.bottom, (search.cx, low), (check.cx, low), check.bottom], color=MUTED, lw=1.2,
               ls=(0, (4, 3)), label="the retrieved chunk ids", label_at=((search.cx + check.cx) / 2, low),
               label_size=8.5)
    return c.save(path)


# --------------------------------------------------------------------------------------------- LoRA


def draw_lora(path: Path, d: int = HIDDEN, r: int = RANK, alpha: int = ALPHA) -> Path:
    """LoRA on one d × d weight: x goes through the frozen W and, beside it, through the trained A then B."""
    full, lora = lora_counts(d, r)
    c = Canvas(10.5, 6.0)
    c.text(0.3, 5.7, "LoRA: keep the pretrained weight frozen, train a small low-rank update beside it", size=14,
           weight="bold", ha="left")
    c.text(0.3, 5.28, "h = W x + (α / r) · B A x", size=14, color=INK, ha="left")

    side = 2.2  # W is d × d; A and B are drawn thin (r is tiny next to d; not to scale)
    thin = 0.3
    x_in = c.box(0.8, 2.95, 1.1, 1.0, f"{d} numbers", DATA, title="x", size=9)
    wbox = c.box(3.6, 3.75, side, side, f"{d} × {d}\n{full:,} weights\n\npretrained,\nfrozen", FROZEN,
                 title="W", size=10, radius=0.03, lw=2.0)
    a_box = c.box(3.6, 1.2, side, thin, f"A  ({r} × {d})", TRAINED, size=9.5, weight="bold", radius=0.03, lw=2.0)
    b_box = c.box(5.95, 1.2 + side / 2 - thin / 2, thin, side, "", TRAINED, radius=0.03, lw=2.0)
    c.text(a_box.cx, a_box.bottom[1] - 0.22, "trained", size=9.5, color=TRAINED.edge)
    c.text(b_box.left[0] - 0.12, b_box.top[1] - 0.15, f"B  ({d} × {r})", size=9.5, color=TRAINED.edge,
           weight="bold", ha="right")
    c.text(b_box.left[0] - 0.12, b_box.top[1] - 0.38, "trained,\nstarts at zero", size=9, color=TRAINED.edge,
           ha="right", va="top")

    sx, sy, sr = 7.55, 2.95, 0.26  # the sum
    c.ax.add_patch(Circle((sx, sy), sr, facecolor="white", edgecolor=INK, lw=1.6, zorder=3))
    c.text(sx, sy + 0.01, "+", size=16, weight="bold")
    h_out = c.box(9.35, sy, 1.5, 1.0, f"{d} numbers", DATA, title="h", size=9)

    split = 1.75  # where x forks
    c.polyline([x_in.right, (split, x_in.cy), (split, wbox.cy), wbox.left])
    c.polyline([(split, x_in.cy), (split, a_box.cy), a_box.left])
    c.arrow(a_box.right, (b_box.left[0], a_box.cy), label=f"{r} numbers",
            label_at=((a_box.right[0] + b_box.left[0]) / 2, a_box.cy + 0.2), label_size=8.5)
    c.polyline([wbox.right, (sx, wbox.cy), (sx, sy + sr)], label="W x", label_at=(5.95, wbox.cy),
               label_size=9.5)
    c.polyline([b_box.right, (sx, b_box.cy), (sx, sy - sr)], label=f"× α/r = {alpha}/{r}",
               label_at=((b_box.right[0] + sx) / 2, b_box.cy), label_size=9, label_color=TRAINED.edge)
    c.arrow((sx + sr, sy), h_out.left)

    # The numbers, for SmolLM2-135M's query projection, computed from d and r.
    mono = "DejaVu Sans Mono"
    c.box(8.7, 1.0, 3.4, 1.3, "", NOTE, lw=1.0)
    c.text(7.15, 1.4, f"SmolLM2-135M, query projection (q_proj)\nd = {d}, rank r = {r}", size=9, ha="left",
           weight="bold")
    width = len(f"{full:,}")
    c.text(7.15, 0.98, f"W:     {d} · {d} = {full:>{width},} weights", size=9, ha="left", color=FROZEN.edge, family=mono)
    c.text(7.15, 0.74, f"A + B: 2 · {r} · {d} = {lora:>{width},} weights", size=9, ha="left", color=TRAINED.edge,
           family=mono)
    c.text(7.15, 0.52, f"{'':>{len(f'A + B: 2 · {r} · {d} = ')}}({lora / full:.1%} of W)", size=8.5, ha="left",
           color=TRAINED.edge, family=mono, weight="bold")
    c.text(0.3, 0.3, "B starts at zero: training starts from the base model exactly (B A x = 0 at step 0).",
           size=10, ha="left", style="italic", color=MUTED)
    return c.save(path)


# --------------------------------------------------------------------------------------------- RAFT


def draw_raft(path: Path) -> Path:
    """One RAFT example (oracle + distractors → JSON target, loss on the target only) and an abstain one."""
    c = Canvas(11.0, 7.6)
    c.text(0.3, 7.3, "RAFT: train the reader on retrieved chunks, the oracle among distractors", size=14,
           weight="bold", ha="left")
    mono = "DejaVu Sans Mono"
    oracle = "[returns#0] Customers may return a device within 30 days of delivery."
    distractors = ("[shipping#1] Standard shipping takes 5 business days.",
                   "[warranty#2] The warranty covers manufacturing defects for one year.")
    question = "Question: How many days do customers have to return a device?"
    px, pw, tx, tw = 0.3, 6.5, 7.6, 3.1  # the prompt's and the target's columns
    inner = pw - 0.3

    def chunk(y: float, text: str, kind: str, h: float, size: float) -> None:
        """A chunk in the prompt, tagged oracle (green border) or distractor (grey)."""
        if kind == "oracle":
            c.box(px + pw / 2, y, inner, h, text, TRAINED, size=size, lw=2.4, ha="left", radius=0.05)
            c.text(px + pw - 0.25, y, "oracle", size=8.5, color=TRAINED.edge, weight="bold", ha="right")
        elif kind == "missing":
            c.box(px + pw / 2, y, inner, h, "(no oracle: the chunks holding the answer are left out)",
                  Style("#ffffff", FROZEN.edge, MUTED), size=size, lw=1.2, ls=(0, (4, 3)), ha="left", radius=0.05)
        else:
            c.box(px + pw / 2, y, inner, h, text, FROZEN, size=size, lw=1.2, ha="left", radius=0.05)
            c.text(px + pw - 0.25, y, "distractor", size=8.5, color=FROZEN.edge, ha="right")

    def target(cy: float, h: float, answer: dict[str, object], size: float) -> Box:
        """The target box: the JSON reply to learn, one key a line."""
        box = c.box(tx + tw / 2, cy, tw, h, "", TRAINED, lw=2.4)
        c.text(box.cx, box.top[1] - 0.24, "target: the reply to learn", size=10, weight="bold",
               color=TRAINED.edge)
        text = json.dumps(answer, ensure_ascii=False).replace(', "sources"', ',\n "sources"')
        c.text(box.cx, box.cy - 0.12, text, size=size, family=mono)
        return box

    # Example 1: the oracle among two distractors; the loss is on the target only.
    c.text(0.3, 6.85, "Example 1: the oracle chunk is in the prompt, between two distractors", size=11.5,
           weight="bold", ha="left")
    top, step, h = 6.6, 0.5, 0.4
    prompt = c.box(px + pw / 2, top - 1.5, pw, 3.0, "", NOTE, lw=1.2)
    c.text(px + 0.15, top - 0.22, "prompt (in the chat template)", size=10, weight="bold", ha="left")
    y = top - 0.65
    for text, kind in ((distractors[0], "distractor"), (oracle, "oracle"), (distractors[1], "distractor")):
        chunk(y, text, kind, h, 9)
        y -= step
    c.box(px + pw / 2, y, inner, h, question, DATA, size=9.5, ha="left", radius=0.05)
    y -= step
    c.box(px + pw / 2, y, inner, h, 'Reply with JSON only: {"answer": ..., "sources": [ids of the chunks used]}',
          STEP, size=8.5, ha="left", radius=0.05, lw=1.0)
    t1 = target(prompt.cy, 1.5, {"answer": "30 days", "sources": ["returns#0"]}, 9.5)
    c.arrow(prompt.right, t1.left, label="the model\nlearns to\nwrite", label_size=8.5,
            label_at=((prompt.right[0] + t1.left[0]) / 2, prompt.cy + 0.45))

    # What the loss sees, token by token: -100 on the prompt, the target's own tokens after it.
    ty = prompt.bottom[1] - 0.35
    cell = 0.4
    n_prompt = int((pw - 0.1) // cell)
    for i in range(n_prompt):
        c.box(px + 0.05 + cell / 2 + i * cell, ty, cell - 0.06, 0.3, "-100", FROZEN, size=6.5, lw=0.8, radius=0.03)
    n_target = int(tw // cell)
    for i in range(n_target):
        c.box(tx + (tw - n_target * cell) / 2 + cell / 2 + i * cell, ty, cell - 0.06, 0.3, "loss", TRAINED,
              size=6.5, lw=0.8, radius=0.03)
    c.text(px + pw / 2, ty - 0.33, "prompt tokens: label -100, masked (no loss)", size=9.5, color=FROZEN.edge,
           weight="bold")
    c.text(tx + tw / 2, ty - 0.33, "target tokens only: the loss", size=9.5, color=TRAINED.edge, weight="bold")

    # Example 2: the oracle is missing; the target abstains.
    y2 = ty - 0.85
    c.text(0.3, y2, "Example 2 (some of the examples): the oracle is left out, so the right answer is to abstain",
           size=11.5, weight="bold", ha="left")
    step2, h2 = 0.42, 0.34
    p2 = c.box(px + pw / 2, y2 - 0.25 - (4 * step2 + 0.1) / 2, pw, 4 * step2 + 0.1, "", NOTE, lw=1.2)
    yy = p2.top[1] - 0.05 - step2 / 2
    for text, kind in ((distractors[0], "distractor"), ("", "missing"), (distractors[1], "distractor")):
        chunk(yy, text, kind, h2, 8.5)
        yy -= step2
    c.box(px + pw / 2, yy, inner, h2, question, DATA, size=9, ha="left", radius=0.05)
    t2 = target(p2.cy, 1.2, {"answer": "I don't know", "sources": []}, 9.5)
    c.arrow(p2.right, t2.left)
    return c.save(path)


# ----------------------------------------------------------------------------------------- decision


def draw_decision(path: Path) -> Path:
    """The decision flow: prompt engineering, RAG, LoRA, LoRA + RAG."""
    c = Canvas(10.5, 7.6)
    c.text(0.3, 7.3, "Which technique? Start at the top", size=14, weight="bold", ha="left")
    left, mid, right = 1.55, 5.35, 9.05  # the columns' centres
    qw, qh = 3.9, 0.8
    q1 = c.box(mid, 6.45, qw, qh, "Can a better prompt fix it?\n(instructions, examples, format)", STEP, size=10,
               lw=1.8)
    a1 = c.box(right, 6.45, 2.3, 0.7, "Prompt engineering\n(01)", MODEL, size=10, weight="bold")
    q2 = c.box(mid, 5.0, qw, qh + 0.15, "Must it use your own, changing\ndocuments, or show where an answer\n"
               "came from?", STEP, size=10, lw=1.8)
    rag = c.box(mid, 3.6, 2.2, 0.6, "RAG (03)", DATA, size=11, weight="bold")
    q3 = c.box(mid, 2.35, qw, qh, "Is the behaviour or format still\nwrong with RAG? (JSON, citations,\n"
               "abstaining)", STEP, size=10, lw=1.8)
    a3 = c.box(mid, 0.95, 4.3, 0.75, "Fine-tune the behaviour, retrieve the knowledge:\nLoRA + RAG (04, 05)",
               TRAINED, size=10, weight="bold")
    stay = c.box(right, 2.35, 2.3, 0.6, "Stay with RAG", DATA, size=10, weight="bold")
    q4 = c.box(left, 3.6, 2.6, qh, "Is it behaviour / format,\nnot knowledge?", STEP, size=10, lw=1.8)
    a5 = c.box(left, 2.1, 2.4, 0.7, "LoRA fine-tuning\n(04)", TRAINED, size=10, weight="bold")

    def down(a: Box, b: Box, label: str = "") -> None:  # the label beside the line
        c.arrow(a.bottom, b.top, label=label, label_size=9.5, label_at=(a.cx + 0.22, (a.bottom[1] + b.top[1]) / 2))

    def across(a: Box, b: Box, label: str) -> None:  # the label above the line
        c.arrow(a.right, b.left, label=label, label_size=9.5, label_at=((a.right[0] + b.left[0]) / 2, a.cy + 0.17))

    across(q1, a1, "yes")
    down(q1, q2, "no")
    down(q2, rag, "yes")
    down(rag, q3)
    down(q3, a3, "yes")
    across(q3, stay, "no")
    c.polyline([q2.left, (q4.cx, q2.cy), q4.top], label="no", label_size=9.5,
               label_at=((q2.left[0] + q4.cx) / 2, q2.cy + 0.17))
    down(q4, a5, "yes")
    c.arrow(q4.right, rag.left, label="no: it is\nknowledge", label_size=9,
            label_at=((q4.right[0] + rag.left[0]) / 2, q4.cy + 0.3))

    c.text(mid, 0.25, "Measure each step on your own questions with intervals (06)", size=10.5, style="italic",
           color=MUTED)
    return c.save(path)


DIAGRAMS: dict[str, Callable[[Path], Path]] = {
    "concept_rag.png": draw_rag,
    "concept_lora.png": draw_lora,
    "concept_raft.png": draw_raft,
    "concept_decision.png": draw_decision,
}


def draw_all(out: Path = DEFAULT_OUT) -> list[Path]:
    """Draw the four diagrams into ``out``; return their paths."""
    with matplotlib.rc_context(RC):
        return [draw(Path(out) / name) for name, draw in DIAGRAMS.items()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNGs (docs/images/)")
    args = parser.parse_args(argv)
    full, lora = lora_counts(HIDDEN, RANK)
    print(f"LoRA on a {HIDDEN} × {HIDDEN} weight, r = {RANK}: W {full:,} weights, A + B {lora:,} "
          f"({lora / full:.1%})")
    for path in draw_all(args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
