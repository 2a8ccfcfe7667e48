#!/usr/bin/env python3
"""Write the workbook-wide verdict table and notebook 05's system table into README.md from the last run.

Notebooks 01, 03 and 05 each end with a verdict table (``helpers.uncertainty.verdict_table``) that
they save as ``results/NN_verdicts.csv``. This script joins them and replaces the block between
``<!-- verdicts:start -->`` and ``<!-- verdicts:end -->`` in README.md, so the README shows what the
last run measured, not what someone typed; the same for notebook 05's per-system rates
(``05_intervals.csv``, between ``<!-- systems:start -->`` and ``<!-- systems:end -->``) and the runtime
table (``results/benchmarks/workbook_time_*.json``, between ``<!-- runtimes:start -->`` and
``<!-- runtimes:end -->``). Run it after ``make run`` (or ``make test``)::

    python scripts/update_readme.py            # rewrite the block
    python scripts/update_readme.py --check    # exit 1 if the README block is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.uncertainty import format_verdicts  # noqa: E402

START, END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"
SYSTEMS_START, SYSTEMS_END = "<!-- systems:start -->", "<!-- systems:end -->"
TIMES_START, TIMES_END = "<!-- runtimes:start -->", "<!-- runtimes:end -->"


def verdict_markdown(results_dir: Path) -> str:
    """The markdown table of every ``*_verdicts.csv`` under ``results_dir`` (notebook order).

    Raises:
        FileNotFoundError: no verdict file (run the notebooks first).
    """
    files = sorted(results_dir.glob("[0-9][0-9]_verdicts.csv"))
    if not files:
        raise FileNotFoundError(f"No NN_verdicts.csv in {results_dir}: run the notebooks first (make run).")
    lines = ["| notebook | claim | effect (a − b) | 95% CI | n | p | verdict |", "|---|---|---|---|---|---|---|"]
    for path in files:
        shown = format_verdicts(pd.read_csv(path).set_index("claim"))
        for claim, row in shown.iterrows():
            lines.append(f"| {path.name[:2]} | {claim} | {row['effect (a − b)']} | {row['95% CI']} | {row['n']} | {row['p']} "
                         f"| **{row['verdict']}** |")
    return "\n".join(lines)


def systems_markdown(results_dir: Path) -> str:
    """Notebook 05's per-system rates (``05_intervals.csv``) and prompt tokens (``05_head_to_head.csv``).

    Raises:
        FileNotFoundError: notebook 05 has not been run.
    """
    try:
        rates = pd.read_csv(results_dir / "05_intervals.csv").set_index(["system", "metric"])
        table = pd.read_csv(results_dir / "05_head_to_head.csv").set_index("system")
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err.filename} is missing: run notebook 05 first (make run).") from None
    metrics = {"accuracy": "accuracy", "JSON valid": "valid JSON", "correct source cited": "cites a correct, retrieved source",
               "abstention_ok": "\"I don't know\" when unanswerable"}
    lines = ["| system | " + " | ".join(metrics.values()) + " | prompt tokens |", "|---" * (len(metrics) + 2) + "|"]
    for system in table.index:
        cells = []
        for metric in metrics:
            if (system, metric) in rates.index:
                r = rates.loc[(system, metric)]
                cells.append(f"{r['value']:.0%} ({r['k']:.0f}/{r['n']:.0f}, {r['low']:.0%}–{r['high']:.0%})")
            else:
                cells.append("–")
        lines.append(f"| {system} | " + " | ".join(cells) + f" | {table.loc[system, 'prompt_tokens']:.0f} |")
    return "\n".join(lines)


def runtime_markdown(benchmarks_dir: Path) -> str:
    """Per-notebook seconds of the last cold and warm workbook runs (``benchmarks/workbook_time.py``), with
    each notebook's slowest cell.

    Raises:
        FileNotFoundError: neither run has been measured.
    """
    import json

    runs = {label: json.loads(path.read_text(encoding="utf-8"))
            for label in ("cold", "generated", "warm") if (path := benchmarks_dir / f"workbook_time_{label}.json").is_file()}
    if not runs:
        raise FileNotFoundError(f"No workbook_time_*.json in {benchmarks_dir}: run benchmarks/workbook_time.py first.")
    labels = {"cold": "cold (empty caches)", "generated": "every answer generated (other caches warm)",
              "warm": "warm (caches from an earlier run)"}
    lines = ["| notebook | " + " | ".join(labels[k] for k in runs) + " | slowest cell (first run listed) |",
             "|---" * (len(runs) + 2) + "|"]
    first = next(iter(runs.values()))
    for i, row in enumerate(first["notebooks"]):
        times = [f"{run['notebooks'][i]['seconds']:,.0f} s" if i < len(run["notebooks"]) else "–" for run in runs.values()]
        seconds, cell, line = row["slowest_cells"][0]
        line = line.replace("|", "\\|")[:70]
        lines.append(f"| {row['notebook']} | " + " | ".join(times) + f" | {seconds:,.0f} s, cell {cell}: `{line}` |")
    totals = [f"**{run['total_seconds']:,.0f} s = {run['total_seconds'] / 60:.1f} min**" for run in runs.values()]
    lines.append("| all | " + " | ".join(totals) + " | |")
    dates = "; ".join(f"{k}: {run['when'][:10]}, {run['machine'].get('CPU cores', '?')} CPU cores" for k, run in runs.items())
    return "\n".join(lines) + f"\n\nMeasured by `benchmarks/workbook_time.py` ({dates})."


def replace_block(readme: str, table: str, start_marker: str = START, end_marker: str = END) -> str:
    """``readme`` with the text between the two markers replaced by ``table``.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = readme.find(start_marker), readme.find(end_marker)
    if start < 0 or end < start:
        raise ValueError(f"README.md needs the markers {start_marker} and {end_marker} (in that order) around the table.")
    return readme[: start + len(start_marker)] + "\n" + table + "\n" + readme[end:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that README.md is up to date")
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    args = parser.parse_args()
    readme_path = ROOT / "README.md"
    readme = readme_path.read_text(encoding="utf-8")
    try:
        updated = replace_block(readme, verdict_markdown(args.results))
        updated = replace_block(updated, systems_markdown(args.results), SYSTEMS_START, SYSTEMS_END)
        if TIMES_START in readme:
            updated = replace_block(updated, runtime_markdown(args.results / "benchmarks"), TIMES_START, TIMES_END)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        if updated != readme:
            print("README.md's verdict table differs from the last run's results: run scripts/update_readme.py")
            return 1
        return 0
    readme_path.write_text(updated, encoding="utf-8")
    print(f"README.md: verdict table from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
