"""The one-page HTML report of a your-data comparison (``llm-workbook compare``, notebook 06), and the
tables notebook 06 shows (:func:`summary_table`, :func:`rates_by_type`).

:func:`render_report` turns the ``results.csv`` rows and the ``summary.json`` of
:mod:`helpers.workbook.your_data` into one self-contained page: the figure is embedded as a PNG, the styles are
inline, nothing is fetched from the network. :func:`plot_rates` draws the figure (also shown in notebook 06).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Rates reported per system, in the order of the report (names of :data:`helpers.evaluation.OUTCOMES`).
METRICS: tuple[str, ...] = ("accuracy", "abstention_ok", "wrong_abstention", "JSON valid", "correct source cited",
                            "cited when correct")
METRIC_LABELS = {"accuracy": "accuracy (answerable)", "abstention_ok": "abstains on unanswerable questions",
                 "wrong_abstention": "abstains on answerable ones (wrongly)", "JSON valid": "valid JSON",
                 "correct source cited": "cites a correct source",
                 "cited when correct": "cites a correct source, on its correct answers"}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2937}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #e5e7eb}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}th,td{border:1px solid #e5e7eb;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#f3f4f6}.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#047857;font-weight:600}.bad{color:#b91c1c;font-weight:600}.unk{color:#6b7280}
details{border:1px solid #e5e7eb;border-radius:6px;margin:.4em 0;padding:.3em .7em}summary{cursor:pointer}
.chunk{font-size:.85em;color:#374151;background:#f9fafb;border-left:3px solid #93c5fd;padding:.2em .5em;margin:.2em 0;
white-space:pre-wrap}.muted{color:#6b7280;font-size:.9em}li{margin:.3em 0}
"""


def _pct(rate: Mapping[str, Any] | None) -> str:
    if not rate:
        return "–"
    return (f"{rate['value']:.0%} <span class='muted'>({rate['k']}/{rate['n']}, "
            f"95% CI {rate['low']:.0%}–{rate['high']:.0%})</span>")


def plot_rates(summary: Mapping[str, Any], metrics: tuple[str, ...] = ("accuracy", "abstention_ok")) -> Any:
    """Bars of each system's rates with their 95% intervals as error bars (one panel per metric that
    any system measured); returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    systems = summary["systems"]
    shown = [m for m in metrics if any(m in s for s in systems.values())]
    fig, axes = plt.subplots(1, max(len(shown), 1), figsize=(4.2 * max(len(shown), 1), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], shown):
        names = [n for n, s in systems.items() if metric in s]
        values = [systems[n][metric]["value"] for n in names]
        low = [v - systems[n][metric]["low"] for n, v in zip(names, values)]
        high = [systems[n][metric]["high"] - v for n, v in zip(names, values)]
        ax.bar(names, values, yerr=[low, high], capsize=5, color="#93c5fd", edgecolor="#1d4ed8")
        n = systems[names[0]][metric]["n"] if names else 0
        ax.set_title(f"{METRIC_LABELS.get(metric, metric)} (n = {n})", fontsize=10)
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    if not shown:
        axes[0][0].text(0.5, 0.5, "nothing scored yet", ha="center", va="center")
        axes[0][0].set_axis_off()
    fig.tight_layout()
    return fig


def _figure_png(summary: Mapping[str, Any]) -> str:
    import matplotlib.pyplot as plt

    fig = plot_rates(summary)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _system_table(summary: Mapping[str, Any]) -> str:
    systems = summary["systems"]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in systems)
    rows = []
    for metric in METRICS:
        if any(metric in s for s in systems.values()):
            cells = "".join(f"<td>{_pct(s.get(metric))}</td>" for s in systems.values())
            rows.append(f"<tr><th>{html.escape(METRIC_LABELS[metric])}</th>{cells}</tr>")
    cells = "".join(f"<td class='num'>{s['seconds_per_question']:.2f} s</td>" for s in systems.values())
    rows.append(f"<tr><th>seconds per question (batched)</th>{cells}</tr>")
    cells = "".join(f"<td class='num'>{s['graded']}/{s['questions']}</td>" for s in systems.values())
    rows.append(f"<tr><th>answers graded</th>{cells}</tr>")
    return f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"


def _paired_table(summary: Mapping[str, Any]) -> str:
    if not summary["paired"]:
        return "<p class='muted'>No paired test yet: nothing is graded.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(t['metric'])}: {html.escape(t['a'])} vs {html.escape(t['b'])}</td><td class='num'>{t['difference'] * 100:+.0f} points</td>"
        f"<td class='num'>{t['low'] * 100:+.0f} to {t['high'] * 100:+.0f}</td><td class='num'>{t['n']}</td>"
        f"<td class='num'>{t['p']:.2g}</td><td class='{'ok' if t['verdict'] == 'holds' else 'unk'}'>{t['verdict']}</td></tr>"
        for t in summary["paired"])
    return ("<table><tr><th>comparison</th><th>difference</th><th>95% CI</th><th>n</th><th>exact McNemar p</th>"
            f"<th>verdict</th></tr>{rows}</table>")


def _retrieval_table(summary: Mapping[str, Any]) -> str:
    retrieval = summary.get("retrieval")
    if not retrieval:
        return "<p class='muted'>No question names a <code>source</code> or has an answer: retrieval is not measured.</p>"
    rows = "".join(f"<tr><th>{key}</th><td>{_pct(value) if 'k' in value else _mean(value)}</td></tr>"
                   for key, value in retrieval.items() if isinstance(value, dict) and "value" in value)
    return (f"<p>hit@k and MRR@10: document level, over the {retrieval['n']} questions that name a source. "
            f"answer in top-{retrieval['k']}: the gold answer appears in one of the {retrieval['k']} chunks the RAG "
            f"systems read (the ceiling for any reader).</p><table>{rows}</table>")


def _cost_table(summary: Mapping[str, Any]) -> str:
    costs = summary.get("costs") or {}
    if not costs.get("systems"):
        return "<p class='muted'>Not measured.</p>"
    prices = costs.get("prices") or {}
    money = [(k, label) for k, label in (("api_cost", "as an API"), ("machine_cost", "on your machine"))
             if any(k in row for row in costs["systems"].values())]
    head = ("<tr><th>system</th><th>prompt tokens</th><th>completion tokens</th><th>machine hours</th>"
            + "".join(f"<th>{label} ({html.escape(prices.get('currency', ''))})</th>" for _, label in money) + "</tr>")
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class='num'>{row['prompt_tokens']:,.0f}</td>"
        f"<td class='num'>{row['completion_tokens']:,.0f}</td><td class='num'>{row['machine_hours']:.2f}</td>"
        + "".join(f"<td class='num'>{row.get(k, float('nan')):,.2f}</td>" for k, _ in money) + "</tr>"
        for name, row in costs["systems"].items())
    note = (f"Prices you set: {html.escape(json.dumps(prices))}." if prices else
            "No prices set: pass --prices prices.json (input_per_million, output_per_million, machine_per_hour).")
    return (f"<p class='muted'>Measured tokens and seconds per question, times 1,000. {note} Replayed or cached "
            f"answers keep the seconds measured when they were generated.</p><table>{head}{rows}</table>")


def _mean(value: Mapping[str, Any]) -> str:
    return f"{value['value']:.3f} <span class='muted'>(n = {value['n']}, 95% CI {value['low']:.3f}–{value['high']:.3f})</span>"


def _mark(row: pd.Series) -> str:
    correct = row["correct"]
    if correct is True or correct == "True":
        return "<span class='ok'>✓ correct</span>"
    if correct is False or correct == "False":
        return "<span class='bad'>✗ wrong</span>"
    return "<span class='unk'>? to review</span>"


def _citations(row: pd.Series) -> str:
    cited = [c for c in str(row["cited"]).split(";") if c]
    if not cited:
        return "<span class='muted'>none</span>"
    retrieved = set(str(row["retrieved"]).split(";"))
    sources = set(filter(None, str(row["source"]).split(";")))
    marks = []
    for c in cited:
        if c not in retrieved:
            marks.append(f"<span class='bad'>{html.escape(c)} (not retrieved)</span>")
        elif sources and c in sources:
            marks.append(f"<span class='ok'>{html.escape(c)} ✓</span>")
        elif sources:
            marks.append(f"<span class='unk'>{html.escape(c)} (retrieved, not the source)</span>")
        else:
            marks.append(f"{html.escape(c)} (retrieved)")
    return ", ".join(marks)


def _questions(results: pd.DataFrame) -> str:
    blocks = []
    for qid, rows in results.groupby("id", sort=False):
        first = rows.iloc[0]
        marks = " ".join(f"{html.escape(r['system'])}: {_mark(r)}" for _, r in rows.iterrows())
        gold = html.escape(first["gold"]) or "<span class='muted'>none given</span>"
        source = html.escape(first["source"]) or "<span class='muted'>none given</span>"
        table = "".join(
            f"<tr><td>{html.escape(r['system'])}</td><td>{html.escape(r['answer'])}</td><td>{_mark(r)}</td>"
            f"<td>{_citations(r) if r['retrieved'] else '<span class=muted>closed-book</span>'}</td></tr>"
            for _, r in rows.iterrows())
        hits = next((json.loads(r["hits"]) for _, r in rows.iterrows() if r["hits"] not in ("", "[]")), [])
        chunks = "".join(f"<div class='chunk'><b>{html.escape(h['doc'])}</b> {html.escape(h['text'])}</div>"
                         for h in hits)
        blocks.append(
            f"<details><summary><b>{html.escape(str(qid))}</b> {html.escape(first['question'])} "
            f"<span class='muted'>{marks}</span></summary><p>gold: {gold} · source: {source} · type: "
            f"{html.escape(first['type'])}</p><table><tr><th>system</th><th>answer</th><th>graded</th>"
            f"<th>cited (verified against the retrieved chunks and the source)</th></tr>{table}</table>"
            + (f"<p class='muted'>Retrieved chunks (what the RAG systems read):</p>{chunks}" if chunks else "")
            + "</details>")
    return "".join(blocks)


def question_blocks(results: pd.DataFrame, ids: list[str] | None = None, *, open_: bool = True) -> str:
    """The report's side-by-side view of some questions (all if ``ids`` is ``None``) as an HTML fragment
    with its styles, for a notebook to ``display(HTML(...))``."""
    results = normalize_results(results)
    if ids is not None:
        results = results[results["id"].isin(ids)]
    blocks = _questions(results)
    scoped = re.sub(r"(^|})\s*([^{}]+){", lambda m: m[1] + ",".join(
        ".wb-report" if sel.strip() == "body" else f".wb-report {sel.strip()}" for sel in m[2].split(",")) + "{",
        _CSS.strip())
    return f"<style>{scoped}</style><div class='wb-report'>" + (
        blocks.replace("<details>", "<details open>") if open_ else blocks) + "</div>"


def _short(path: object) -> str:
    """A path as the reader knows it: relative to the working folder when inside it, else its last two parts
    (no home or temp folders of the machine that ran it in a shared report)."""
    from pathlib import Path

    p = Path(str(path))
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return Path(*p.parts[-2:]).as_posix() if len(p.parts) > 1 else p.as_posix()


def render_report(results: pd.DataFrame, summary: Mapping[str, Any]) -> str:
    """The report page as one HTML string (no external resources)."""
    results = normalize_results(results)
    setup = summary.get("setup", {})
    graded = summary.get("graded", {})
    advice = "".join(f"<li>{html.escape(s)}</li>" for s in summary.get("recommendation", []))
    seconds = setup.get("seconds", {})
    facts = (f"{setup.get('documents', '?')} documents ({setup.get('chunks') or '–'} chunks) from "
             f"<code>{html.escape(_short(setup.get('docs', '?')))}</code>; {setup.get('questions', '?')} questions from "
             f"<code>{html.escape(_short(setup.get('questions_file', '?')))}</code>. Model "
             f"<code>{html.escape(str(setup.get('llm', '?')))}</code>, embedder "
             f"<code>{html.escape(str(setup.get('embedder', '?')))}</code>, retrieval {setup.get('method', '?')} top-"
             f"{setup.get('k', '?')}, profile {setup.get('profile', '?')}, seed {setup.get('seed', '?')}; "
             f"{seconds.get('total', '?')} s in all." + (
                 f" {setup['chunks trimmed']} retrieved chunks were left out of prompts that would not fit the "
                 "model's context window." if setup.get("chunks trimmed") else "") + (
                 f" Retrieval {setup['tuning']['method']} top-{setup['tuning']['k']} was chosen on "
                 f"{setup['tuning']['dev questions']} dev questions; only the test rows are reported."
                 if setup.get("tuning") else ""))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>llm-workbook compare: report</title>
<style>{_CSS}</style></head><body>
<h1>Prompt-only vs RAG vs LoRA + RAG on your documents</h1>
<p>{facts}</p>
<p class="muted">Graded: {graded.get('automatic', 0)} automatically (the gold answer appears in the answer),
{graded.get('person', 0)} by a person, {graded.get('not yet', 0)} not yet. Every rate: k/n with a 95% Wilson
interval; comparisons: exact McNemar test and paired bootstrap CI on the same questions.</p>
<h2>What the measurements support</h2><ul>{advice}</ul>
<h2>Per system</h2>{_system_table(summary)}
<img alt="rates with 95% intervals" src="data:image/png;base64,{_figure_png(summary)}">
<h2>Paired tests</h2>{_paired_table(summary)}
<h2>Retrieval</h2>{_retrieval_table(summary)}
<h2>Cost per 1,000 questions</h2>{_cost_table(summary)}
<h2>Every question</h2><p class="muted">Click a question to see each system's answer, its citations and the
chunks retrieval handed to the RAG systems.</p>{_questions(results)}
<p class="muted">Written by <code>llm-workbook compare</code>. Re-grade: fill the <code>verdict</code> column of
results.csv and run <code>llm-workbook score results.csv</code>.</p>
</body></html>
"""


# --------------------------------------------------------------------------- results tables
def _as_bool(series: pd.Series) -> pd.Series:
    """Booleans read back from CSV ("True"/"False"/empty) as True/False/NaN."""
    mapping = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}
    return series.map(lambda v: v if isinstance(v, bool) else mapping.get(str(v).strip().lower(), np.nan)
                      if not (isinstance(v, float) and math.isnan(v)) else np.nan)


def normalize_results(results: pd.DataFrame) -> pd.DataFrame:
    """A results table (fresh or read back from ``results.csv``) with proper types: booleans as booleans
    (NaN where not measured), empty strings instead of NaN in text columns."""
    table = results.copy()
    for column in ("correct", "abstained", "json_valid"):
        if column in table:
            table[column] = _as_bool(table[column]).astype(object)
    for column in ("n_cited", "invented", "cit_precision", "prompt_tokens", "completion_tokens", "seconds"):
        if column in table:
            table[column] = pd.to_numeric(table[column], errors="coerce")
    for column in ("gold", "aliases", "source", "answer", "output", "verdict", "graded_by", "cited", "retrieved",
                   "hits", "type", "question", "id", "system"):
        if column in table:
            table[column] = table[column].fillna("").astype(str)
    return table


def summary_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The per-system rates as one table (rows: metrics, columns: systems), each cell ``"k/n = x%
    (95% CI lo–hi%)"``; ``–`` where a system does not measure the metric."""
    rows = {}
    for metric in METRICS:
        cells = {name: (f"{r['k']}/{r['n']} = {r['value']:.0%} ({r['low']:.0%}–{r['high']:.0%})"
                        if (r := rates.get(metric)) else "–") for name, rates in summary["systems"].items()}
        if any(c != "–" for c in cells.values()):
            rows[METRIC_LABELS[metric]] = cells
    rows["seconds per question"] = {name: f"{rates['seconds_per_question']:.2f}"
                                    for name, rates in summary["systems"].items()}
    return pd.DataFrame(rows).T


def rates_by_type(results: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per question ``type`` and system as ``"k/n"`` (answerable types: gold answer found;
    ``unanswerable``: said it does not know), over the graded rows."""
    table = normalize_results(results)
    table = table[table["correct"].notna()]
    return (table.assign(correct=table["correct"].astype(bool))
            .groupby(["type", "system"], sort=False)["correct"]
            .agg(lambda s: f"{int(s.sum())}/{len(s)}").unstack("system"))
