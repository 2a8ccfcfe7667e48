"""How long `llm-workbook compare` takes on the shipped example (data/your_data/), end to end.

Runs the command as a user would (a subprocess, the three default systems, warm model caches, the
generation cache off, as for documents and questions it has not seen) and
prints the wall time, the per-step seconds the command recorded, and the prompt tokens per question
that drive the RAG systems' cost. Writes ``benchmarks/compare_time/as_shipped.json`` (``single_line.json``
with ``--single-line``; committed: README's single-line sentence is checked against them).

    python benchmarks/compare_time.py [--questions FILE] [--systems prompt,rag,lora+rag] [--single-line]

``--single-line`` first rewrites every document as one line (as exports from databases, wikis and ticket
systems often are), keeping file names, so the same questions apply: a folder like that once put a whole
document into every chunk's heading and made prompts overflow the context window.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "data" / "your_data"
TARGET_SECONDS = 180  # the target on 2 CPU cores, warm caches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=EXAMPLE / "docs")
    parser.add_argument("--questions", type=Path, default=EXAMPLE / "questions.csv")
    parser.add_argument("--systems", default="prompt,rag,lora+rag")
    parser.add_argument("--single-line", action="store_true", help="rewrite every document as one line first")
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"), "TOKENIZERS_PARALLELISM": "false",
           "WORKBOOK_GENERATION_CACHE": "0"}  # every answer generated: what new documents or questions cost
    with tempfile.TemporaryDirectory() as tmp:
        if args.single_line:
            flat = Path(tmp) / "single-line"
            flat.mkdir()
            for path in sorted(args.docs.iterdir()):
                if path.is_file():
                    (flat / path.with_suffix(".txt").name).write_text(" ".join(path.read_text(encoding="utf-8").split()) + "\n",
                                                                   encoding="utf-8")
            args.docs = flat
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "helpers", "compare", "--docs", str(args.docs), "--questions",
                        str(args.questions), "--systems", args.systems, "--out", tmp], check=True, env=env, cwd=REPO)
        wall = time.perf_counter() - start
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        results = pd.read_csv(Path(tmp) / "results.csv")
    setup = summary["setup"]
    tokens = results.groupby("system", sort=False)["prompt_tokens"].mean().round(0).to_dict()
    record = {"wall_seconds": round(wall, 1), "steps": setup["seconds"], "documents": setup["documents"],
              "chunks": setup["chunks"], "questions": setup["questions"], "systems": setup["systems"],
              "prompt_tokens_per_question": tokens, "llm": setup["llm"], "cpu_count": os.cpu_count(),
              "single_line": args.single_line, "chunks_trimmed": setup.get("chunks trimmed", 0),
              "seconds_per_question": round(wall / setup["questions"], 2),
              "target_seconds": TARGET_SECONDS, "met": wall <= TARGET_SECONDS}
    out = REPO / "benchmarks" / "compare_time" / ("single_line.json" if args.single_line else "as_shipped.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    print(f"\n{wall:.0f} s end to end for {setup['questions']} questions x {len(setup['systems'])} systems "
          f"({'within' if record['met'] else 'over'} the {TARGET_SECONDS} s target); written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
