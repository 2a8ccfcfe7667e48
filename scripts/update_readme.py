#!/usr/bin/env python3
"""Write the workbook-wide verdict table and notebook 05's system table into README.md from the last run.

Notebooks 01, 03 and 05 each end with a verdict table (``helpers.uncertainty.verdict_table``) that
they save as ``results/NN_verdicts.csv``. This script joins them and replaces the block between
``<!-- verdicts:start -->`` and ``<!-- verdicts:end -->`` in README.md, so the README shows what the
last run measured, not what someone typed; the same for notebook 05's per-system rates
(``05_intervals.csv``, between ``<!-- systems:start -->`` and ``<!-- systems:end -->``) and the runtime
table (``benchmarks/workbook_time/*.json``, between ``<!-- runtimes:start -->`` and
``<!-- runtimes:end -->``), and the timing tables of docs/AGENDA.md and docs/INSTRUCTOR.md (between
``<!-- timings:start -->`` and ``<!-- timings:end -->``). Run it after ``make run`` (or ``make test``)::

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
HANDOUT_START, HANDOUT_END = "<!-- timings:start -->", "<!-- timings:end -->"
HANDOUTS = (ROOT / "docs" / "AGENDA.md", ROOT / "docs" / "INSTRUCTOR.md")


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


#: the workbook benchmark's runs, in the order README's table shows them (the first one present is the main one)
RUN_LABELS = {"fresh_avx2": "fresh clone, AVX2 kernels (as on most laptops)", "fresh": "fresh clone",
              "fresh_strict": "fresh clone, reference kernels, strict replay (as CI)",
              "cold": "cold: empty caches, nothing replayed", "generated": "every answer generated (other caches warm)",
              "warm": "warm (caches from an earlier run)"}
WORKBOOK_TIME = ROOT / "benchmarks" / "workbook_time"


def workbook_runs(benchmarks_dir: Path = WORKBOOK_TIME) -> dict[str, dict]:
    """The workbook benchmark's runs (``benchmarks/workbook_time/<label>.json``) in :data:`RUN_LABELS` order.

    Raises:
        FileNotFoundError: none has been measured.
    """
    import json

    runs = {label: json.loads(path.read_text(encoding="utf-8"))
            for label in RUN_LABELS if (path := benchmarks_dir / f"{label}.json").is_file()}
    if not runs:
        raise FileNotFoundError(f"No workbook_time run in {benchmarks_dir}: run benchmarks/workbook_time.py first.")
    return runs


def _peak(row: dict) -> str:
    return f"{row['peak_rss_mb'] / 1024:.1f} GB" if row.get("peak_rss_mb") else "–"


def _answers(row: dict) -> str:
    answers = row.get("answers")
    return f"{answers['replayed']:,} / {answers['generated']:,}" if answers else "–"


def _run_note(label: str, run: dict) -> str:
    numerics = run.get("numerics") or {}
    kernels = f", {numerics['cpu_kernels']} kernels, {numerics['threads']} threads" if numerics else ""
    source = f"; {run['source']}" if run.get("source") else ""
    return f"{label}: {run['when'][:10]}, {run['machine'].get('CPU cores', '?')} CPU cores{kernels}{source}"


def runtime_markdown(benchmarks_dir: Path = WORKBOOK_TIME) -> str:
    """README's runtime table: per notebook, the main run's seconds, peak memory and answers replayed /
    generated, the other runs' seconds, and the main run's slowest cell.

    Raises:
        FileNotFoundError: no run has been measured.
    """
    runs = workbook_runs(benchmarks_dir)
    main_label, main = next(iter(runs.items()))
    others = {k: v for k, v in runs.items() if k != main_label}
    lines = [f"| notebook | {RUN_LABELS[main_label]} | peak memory | answers replayed / generated | "
             + "".join(f"{RUN_LABELS[k]} | " for k in others) + "slowest cell (first run) |",
             "|---" * (len(others) + 5) + "|"]
    for i, row in enumerate(main["notebooks"]):
        times = [f"{run['notebooks'][i]['seconds']:,.0f} s" if i < len(run["notebooks"]) else "–" for run in others.values()]
        seconds, cell, line = row["slowest_cells"][0]
        line = line.replace("|", "\\|")[:70]
        lines.append(f"| {row['notebook']} | {row['seconds']:,.0f} s | {_peak(row)} | {_answers(row)} | "
                     + "".join(f"{t} | " for t in times) + f"{seconds:,.0f} s, cell {cell}: `{line}` |")
    peaks = [r["peak_rss_mb"] for r in main["notebooks"] if r.get("peak_rss_mb")]
    total = f"**{main['total_seconds']:,.0f} s = {main['total_seconds'] / 60:.1f} min**"
    lines.append(f"| all | {total} | {max(peaks) / 1024:.1f} GB (max) | | " if peaks else f"| all | {total} | | | ")
    lines[-1] += "".join(f"**{run['total_seconds']:,.0f} s = {run['total_seconds'] / 60:.1f} min** | "
                         for run in others.values()) + "|"
    notes = "; ".join(_run_note(k, run) for k, run in runs.items())
    return "\n".join(lines) + f"\n\nMeasured by `benchmarks/workbook_time.py` ({notes})."


def handout_markdown(benchmarks_dir: Path = WORKBOOK_TIME, *, slow: float = 20.0) -> str:
    """AGENDA's and INSTRUCTOR's timing table: per notebook, the main run's Run All seconds, peak memory,
    answers replayed / generated, and every section that took at least ``slow`` seconds.

    Raises:
        FileNotFoundError: no run has been measured.
    """
    runs = workbook_runs(benchmarks_dir)
    main_label, main = next(iter(runs.items()))
    lines = [f"| notebook | Run All: {RUN_LABELS[main_label]} | peak memory | answers replayed / generated | "
             f"sections of {slow:.0f} s or more |", "|---|---|---|---|---|"]
    for row in main["notebooks"]:
        slow_parts = [f"{name} ({seconds:,.0f} s)" for name, seconds in row.get("sections", []) if seconds >= slow]
        lines.append(f"| {row['notebook']} | {row['seconds']:,.0f} s | {_peak(row)} | {_answers(row)} | "
                     f"{'; '.join(slow_parts).replace('|', '/') or 'none'} |")
    lines.append(f"| all | **{main['total_seconds'] / 60:.1f} min** | | | |")
    return "\n".join(lines) + (f"\n\nGenerated by `make readme` from `benchmarks/workbook_time/{main_label}.json` "
                               f"({_run_note(main_label, main)}).")


REPLAY_START, REPLAY_END = "<!-- replay:start -->", "<!-- replay:end -->"
REPLAY = ROOT / "benchmarks" / "replay_agreement.json"
VARIANT_LABELS = {"avx2": "AVX2 kernels (as on most laptops), same threads", "1-thread": "same kernels, 1 thread"}


def benchmark_result(path: Path, script: str) -> dict:
    """A committed benchmark's JSON result.

    Raises:
        FileNotFoundError: the benchmark has not been run (names the script that writes it).
    """
    import json

    if not path.is_file():
        raise FileNotFoundError(f"No {path.name}: run benchmarks/{script} first.")
    return json.loads(path.read_text(encoding="utf-8"))


def replay_markdown(path: Path = REPLAY) -> str:
    """README's replay-agreement table from ``benchmarks/replay_agreement.json``
    (``benchmarks/replay_agreement.py``): per variant, identical answers k/n with the 95% interval, per model.

    Raises:
        FileNotFoundError: the benchmark has not been run.
    """
    results = benchmark_result(path, "replay_agreement.py")
    lines = ["| regenerated on | identical answers (95% CI) | default model | shipped reader | seconds |",
             "|---|---|---|---|---|"]

    def cell(r: dict) -> str:
        return f"{r['k'] / r['n']:.1%} ({r['k']}/{r['n']}, {r['low']:.1%}–{r['high']:.1%})"

    for variant, r in results.items():
        n = r["numerics"]
        where = f"{VARIANT_LABELS.get(variant, variant)}: {n['cpu_kernels']}, {n['threads']} thread{'s' * (n['threads'] != 1)}"
        per = r["per_model"]
        lines.append(f"| {where} | {cell(r['identical'])} | {cell(per['base']) if 'base' in per else '–'} | "
                     f"{cell(per['reader']) if 'reader' in per else '–'} | {r['seconds']:,.0f} |")
    reference = next(iter(results.values()))["recorded_on"] or {}
    return "\n".join(lines) + (f"\n\nRecorded on {reference.get('cpu_kernels')} kernels, {reference.get('threads')} "
                               "threads; measured by `make benchmark-replay` (`benchmarks/replay_agreement.json` "
                               "lists every answer that differs, side by side).")


ENDPOINT_START, ENDPOINT_END = "<!-- endpoint:start -->", "<!-- endpoint:end -->"
ENDPOINT = ROOT / "benchmarks" / "endpoint_throughput.json"


def endpoint_markdown(path: Path = ENDPOINT) -> str:
    """README's in-process vs endpoint table from ``benchmarks/endpoint_throughput.json``.

    Raises:
        FileNotFoundError: the benchmark has not been run.
    """
    result = benchmark_result(path, "endpoint_throughput.py")
    lines = ["| how | seconds | answers/s | identical to in-process (95% CI) |", "|---|---|---|---|"]
    for run in result["runs"]:
        if "seconds" not in run:
            lines.append(f"| {run['how']} | failed: {run['failed'][:80]} | – | – |")
            continue
        same = run.get("identical")
        agree = (f"{same['k']}/{same['n']} ({same['low']:.0%}–{same['high']:.0%})" if same else "–")
        lines.append(f"| {run['how']} | {run['seconds']:,.1f} | {run['answers_per_second']:.2f} | {agree} |")
    cores = result["machine"].get("CPU cores", "?")
    return "\n".join(lines) + (f"\n\n{result['answers']} greedy closed-book answers of up to {result['max_new_tokens']} "
                               f"tokens, caches off, server and client on the same {cores}-core machine "
                               f"({result['when']}; `make benchmark-endpoint`).")


ARMS_START, ARMS_END = "<!-- arms:start -->", "<!-- arms:end -->"
ARMS = ROOT / "benchmarks" / "example_arms.json"


def arms_markdown(path: Path = ARMS) -> str:
    """README's every-arm table on the shipped example from ``benchmarks/example_arms.json``: accuracy per arm
    with n and interval, then each paired test's sentence.

    Raises:
        FileNotFoundError: the benchmark has not been run.
    """
    result = benchmark_result(path, "example_arms.py")
    lines = ["| arm | accuracy (answerable) | 95% CI |", "|---|---|---|"]
    for name, rates in result["systems"].items():
        acc = rates["accuracy"]
        lines.append(f"| `{name}` | {acc['k']}/{acc['n']} ({acc['value']:.0%}) | {acc['low']:.0%}–{acc['high']:.0%} |")
    facts = result["setup"]["facts"]
    tests = [f"- `{t['a']}` vs `{t['b']}`: {t['sentence']}." for t in result["paired"] if t["metric"] == "accuracy"]
    cores = result.get("machine", {}).get("CPU cores", "?")
    return "\n".join([*lines, "", *tests, "", f"The fact adapter trained on {facts['pairs']} pairs ({facts['source']}; "
                      f"{facts['dropped (an evaluated question)']} dropped as an evaluated question) in "
                      f"{facts['training seconds']:.0f} s and afterwards answers "
                      f"{facts['own pairs answered after training']}/{facts['pairs']} of its own pairs. The whole run "
                      f"took {result['wall_seconds']:.0f} s on {cores} CPU cores ({result['when']}; `make benchmark-arms`)."])


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
            updated = replace_block(updated, runtime_markdown(), TIMES_START, TIMES_END)
        if ENDPOINT_START in readme:
            updated = replace_block(updated, endpoint_markdown(), ENDPOINT_START, ENDPOINT_END)
        if ARMS_START in readme:
            updated = replace_block(updated, arms_markdown(), ARMS_START, ARMS_END)
        if REPLAY_START in readme:
            updated = replace_block(updated, replay_markdown(), REPLAY_START, REPLAY_END)
        handouts = {path: replace_block(text, handout_markdown(), HANDOUT_START, HANDOUT_END)
                    for path in HANDOUTS if HANDOUT_START in (text := path.read_text(encoding="utf-8"))}
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check:
        stale = [p.name for p, text in handouts.items() if text != p.read_text(encoding="utf-8")]
        if updated != readme or stale:
            print("README.md or the handouts differ from the last run's results: run scripts/update_readme.py")
            return 1
        return 0
    readme_path.write_text(updated, encoding="utf-8")
    for path, text in handouts.items():
        path.write_text(text, encoding="utf-8")
    print(f"README.md: verdict table from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
