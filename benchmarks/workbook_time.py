"""How long the workbook takes: every notebook run top to bottom, with its slowest cells and what it
added to the caches (``make benchmark-workbook``; ``make prewarm`` is the same run, started the evening
before a training day so that the day starts warm).

Usage::

    python benchmarks/workbook_time.py                    # warm: the caches as they are (make prewarm)
    python benchmarks/workbook_time.py --fresh            # a fresh clone: empty caches, recorded answers replayed
    python benchmarks/workbook_time.py --cold             # empty caches and nothing replayed: every answer generated
    python benchmarks/workbook_time.py --cold --then-warm # then again with what the cold run cached
    python benchmarks/workbook_time.py --cold --inplace   # the cold run's outputs into notebooks/ (committed)
    python benchmarks/workbook_time.py --no-stored-answers # other caches kept, every answer generated again

Writes ``benchmarks/workbook_time/<label>.json`` (committed: README's, AGENDA's and INSTRUCTOR's timing
tables are made from it; label: ``fresh``, ``cold``, ``generated`` or
``warm``, with ``_avx2`` etc. when ``ATEN_CPU_CAPABILITY`` chooses another CPU kernel family);
``make readme`` turns them into README's runtime table and the handouts' timings. Per notebook it records
the seconds, the seconds of each ``##`` section, the peak memory (RSS of the kernel process), where its answers came from (the line of
``replay_report``) and the files it added under each cache folder (converted model, embeddings,
re-ranker, adapters, generations).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

from nbclient.exceptions import CellExecutionError  # noqa: E402
from run_notebooks import run_notebook  # noqa: E402

from helpers.runtime.config import get_settings, machine_info  # noqa: E402
from helpers.runtime.generation_cache import clear_generation_cache, numerics, replay_mode  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def first_statement(source: str) -> str:
    """The first line of a cell that says what it does: not blank, not a comment, not an import."""
    lines = [line for line in source.splitlines() if line.strip() and not line.startswith("#")]
    return next((line for line in lines if not line.startswith(("import ", "from ", ")", " "))), lines[0] if lines else "")


def cell_seconds(nb) -> list[tuple[float, int, str]]:
    """(seconds, cell index, first line) of every executed code cell, from nbclient's timestamps."""
    rows = []
    for i, cell in enumerate(nb.cells):
        ex = cell.get("metadata", {}).get("execution", {})
        if cell.cell_type == "code" and "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            took = (datetime.fromisoformat(ex["shell.execute_reply"].replace("Z", "+00:00"))
                    - datetime.fromisoformat(ex["iopub.execute_input"].replace("Z", "+00:00"))).total_seconds()
            first = first_statement(cell.source)
            rows.append((round(took, 1), i, first[:80]))
    return rows


def section_seconds(nb) -> list[tuple[str, float]]:
    """Seconds per section: every executed code cell counted under the ``##`` heading above it (cells above
    the first heading count as ``intro``), in notebook order."""
    timed = {i: seconds for seconds, i, _ in cell_seconds(nb)}
    sections: dict[str, float] = {}
    current = "intro"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            heading = next((line[3:].strip() for line in cell.source.splitlines() if line.startswith("## ")), None)
            current = heading or current
        elif i in timed:
            sections[current] = round(sections.get(current, 0.0) + timed[i], 1)
    return list(sections.items())


def cache_files(folder: Path) -> dict[str, int]:
    """Files under each top-level cache folder (models, embeddings, rerankers, adapters, generations, ...)."""
    if not folder.is_dir():
        return {}
    return {sub.name: sum(1 for p in sub.rglob("*") if p.is_file()) for sub in sorted(folder.iterdir()) if sub.is_dir()}


class PeakMemory:
    """The peak resident memory of this process's children (the notebook kernel), polled twice a second and
    read from the kernel's own high-water mark (``VmHWM``) where Linux keeps one."""

    def __init__(self) -> None:
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(0.5):
            for child in me.children(recursive=True):
                try:
                    rss = child.memory_info().rss
                    status = Path(f"/proc/{child.pid}/status")
                    if status.is_file():
                        hwm = re.search(r"VmHWM:\s+(\d+) kB", status.read_text())
                        rss = max(rss, int(hwm.group(1)) * 1024 if hwm else 0)
                except (OSError, psutil.Error):
                    continue
                self.peak_bytes = max(self.peak_bytes, rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


ANSWERS = re.compile(r"answers: (\d+) replayed from the reference run, (\d+) reused from this machine's cache, "
                     r"(\d+) generated here")


def answer_sources(nb) -> dict[str, int] | None:
    """How many answers the notebook replayed, reused and generated: its ``replay_report`` line."""
    for cell in reversed(nb.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if (found := ANSWERS.search(output.get("text", ""))) is not None:
                return dict(zip(("replayed", "reused", "generated"), map(int, found.groups())))
    return None


def run_all(paths: list[Path], label: str, out_dir: Path | None, timeout: int) -> dict | None:
    """Run every notebook once with the current ``WORKBOOK_CACHE``; the record written to
    ``benchmarks/workbook_time/<label>.json`` (``None`` if a notebook failed)."""
    cache = get_settings().cache_dir
    print(f"{label} run of {len(paths)} notebooks; cache: {cache}", flush=True)
    rows = []
    for path in paths:
        before = cache_files(cache)
        try:
            with PeakMemory() as memory:
                seconds, nb = run_notebook(path, out_dir, timeout)
        except CellExecutionError as err:
            print(f"✗ {path.name} failed:\n{err}", file=sys.stderr)
            return None
        after = cache_files(cache)
        cells = sorted(cell_seconds(nb), reverse=True)
        added = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
        peak_mb = round(memory.peak_bytes / 2**20)
        answers = answer_sources(nb)
        rows.append({"notebook": path.stem, "seconds": round(seconds, 1), "peak_rss_mb": peak_mb, "answers": answers,
                     "slowest_cells": cells[:3], "sections": section_seconds(nb), "cache_added": added})
        print(f"✓ {path.stem:<28} {seconds:7.0f} s   peak {peak_mb:,} MB   answers {answers}   slowest cell "
              f"{cells[0][0]:.0f} s (#{cells[0][1]})   cache files added: {added or 'none'}", flush=True)
    total = sum(r["seconds"] for r in rows)
    print(f"{label}: {total:.0f} s = {total / 60:.1f} min", flush=True)
    result = {"label": label, "total_seconds": round(total, 1), "notebooks": rows,
              "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine_info(),
              "python": platform.python_version(), "profile": get_settings().profile.name,
              "numerics": numerics(), "replay": replay_mode(),
              "cpu_capability_setting": os.environ.get("ATEN_CPU_CAPABILITY")}
    if sorted(paths) == NOTEBOOKS:  # only whole-workbook runs count
        target = ROOT / "benchmarks" / "workbook_time" / f"{label}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}", flush=True)
    return result


def run_label(args: argparse.Namespace, empty: bool) -> str:
    """``fresh`` (empty caches, recorded answers replayed; ``fresh_strict`` under strict replay), ``cold``
    (empty caches, nothing replayed), ``generated`` (other caches kept, every answer generated) or ``warm``."""
    mode = replay_mode()
    if args.fresh or (empty and mode != "off"):  # e.g. make prewarm in a fresh clone
        return "fresh_strict" if mode == "strict" else "fresh"
    if args.cold or empty:
        return "cold"
    return "generated" if args.no_stored_answers else "warm"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN_*.ipynb")
    parser.add_argument("--fresh", action="store_true",
                        help="as a fresh clone: an empty, temporary WORKBOOK_CACHE, recorded answers replayed")
    parser.add_argument("--cold", action="store_true",
                        help="an empty, temporary WORKBOOK_CACHE and no recorded answers: every answer generated")
    parser.add_argument("--no-stored-answers", action="store_true",
                        help="keep the other caches but drop the stored generations: every answer is generated")
    parser.add_argument("--then-warm", action="store_true", help="afterwards, run again with the caches it filled")
    parser.add_argument("--inplace", action="store_true", help="write the (first) run's outputs into notebooks/")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()
    paths = [p.resolve() for p in args.notebooks] or NOTEBOOKS
    executed = ROOT / "results" / "notebooks"
    executed.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="workbook-cold-") as tmp:
        if args.cold or args.fresh:
            os.environ["WORKBOOK_CACHE"] = tmp
        if args.cold or args.no_stored_answers:  # every answer generated: not replayed from generations/
            os.environ["WORKBOOK_RECORDED_GENERATIONS"] = "0"
        kernels = "_" + os.environ["ATEN_CPU_CAPABILITY"].lower() if os.environ.get("ATEN_CPU_CAPABILITY") else ""
        label = run_label(args, empty=not any(cache_files(get_settings().cache_dir).values())) + kernels
        if args.no_stored_answers:
            print(f"dropped {clear_generation_cache()} stored generation batches", flush=True)
        if run_all(paths, label, None if args.inplace else executed, args.timeout) is None:
            return 1
        if args.then_warm and not label.startswith("warm") and run_all(paths, "warm" + kernels, executed, args.timeout) is None:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
