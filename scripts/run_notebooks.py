"""Execute the workbook's notebooks top to bottom, in order (``make run``).

By default each executed copy goes to ``results/notebooks/`` and the sources are left alone;
``--inplace`` writes the outputs back into ``notebooks/`` (how the committed outputs are made).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent


def run_notebook(path: Path, out_dir: Path | None, timeout: int) -> tuple[float, nbformat.NotebookNode]:
    """Execute one notebook in its own folder and write it to ``out_dir`` (``None``: in place); return the
    seconds it took and the executed notebook (its cells carry their execution timestamps)."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    target = path if out_dir is None else out_dir / path.name
    nbformat.write(nb, target)
    return elapsed, nb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/NN_*.ipynb")
    parser.add_argument("--inplace", action="store_true", help="write outputs back into the notebooks")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    out_dir = None if args.inplace else ROOT / "results" / "notebooks"
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    total = 0.0
    for path in paths:
        print(f"▶ {path.name} ...", flush=True)
        try:
            seconds, _ = run_notebook(path.resolve(), out_dir, args.timeout)
        except CellExecutionError as err:
            print(f"✗ {path.name} failed:\n{err}", file=sys.stderr)
            return 1
        total += seconds
        print(f"✓ {path.name}  {seconds:.0f} s", flush=True)
    where = "in place (notebooks/)" if out_dir is None else str(out_dir.relative_to(ROOT))
    print(f"\nAll {len(paths)} notebooks ran in {total:.0f} s. Executed notebooks: {where}; "
          f"result tables: {(ROOT / 'results').relative_to(ROOT)}/")
    print_comparison(paths)
    return 0


def print_comparison(paths: list[Path]) -> None:
    """End with the head-to-head table of notebook 05, when it was part of the run."""
    table = ROOT / "results" / "05_head_to_head.csv"
    if not any(p.name.startswith("05_") for p in paths) or not table.exists():
        return
    import pandas as pd

    columns = ["accuracy", "JSON valid", "cites", "sources ok", "traceable", "abstention_ok", "prompt_tokens",
               "latency_p50", "build_seconds"]
    frame = pd.read_csv(table, index_col=0)
    print("\nHead to head on the knowledge-base test split (notebook 05):")
    print(frame[[c for c in columns if c in frame]].round(3).to_string())


if __name__ == "__main__":
    sys.exit(main())
