"""Every arm of `llm-workbook compare` on the shipped example (data/your_data/): fine-tune or retrieve, measured.

Runs the command as a user would (a subprocess) with prompt, rag, the closed-book fact adapter ``lora``,
the same adapter reading retrieved chunks ``facts+rag``, the shipped reader ``lora+rag``, and the team
arms ``rag+shots`` and ``rag+system`` (the example's shots.csv and system_prompt.txt). The fact adapter
learns the extractive pairs (nothing reviewed, nothing drafted by a model), never an evaluated question.
Writes ``benchmarks/example_arms.json`` (committed; README's table is generated from it by ``make readme``
and checked against it by ``tests/test_docs.py``).

    python benchmarks/example_arms.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "data" / "your_data"
SYSTEMS = "prompt,rag,lora,facts+rag,lora+rag,rag+shots,rag+system"
OUT = REPO / "benchmarks" / "example_arms.json"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "helpers", "compare", "--docs", str(EXAMPLE / "docs"), "--questions",
                        str(EXAMPLE / "questions.csv"), "--systems", SYSTEMS, "--shots", str(EXAMPLE / "shots.csv"),
                        "--system-prompt", str(EXAMPLE / "system_prompt.txt"), "--out", tmp], check=True)
        seconds = time.perf_counter() - start
        summary = json.loads((Path(tmp) / "summary.json").read_text(encoding="utf-8"))
        facts = (Path(tmp) / "facts.csv").read_text(encoding="utf-8")
    keep = {"systems": {name: {m: v for m, v in rates.items() if isinstance(v, dict) and "k" in v}
                        for name, rates in summary["systems"].items()},
            "paired": [{k: t[k] for k in ("metric", "a", "b", "n", "a_rate", "b_rate", "difference", "low", "high",
                                          "p", "verdict", "sentence")} for t in summary["paired"]],
            "recommendation": summary["recommendation"],
            "setup": {k: summary["setup"][k] for k in ("documents", "chunks", "questions", "systems", "method", "k",
                                                       "llm", "facts", "seconds")},
            "facts_examples": facts.splitlines()[1:6], "wall_seconds": round(seconds, 1),
            "when": time.strftime("%Y-%m-%d"), "machine": {"CPU cores": os.cpu_count()},
            "command": f"python benchmarks/example_arms.py ({SYSTEMS})"}
    OUT.write_text(json.dumps(keep, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, rates in keep["systems"].items():
        acc = rates["accuracy"]
        print(f"{name:11s} accuracy {acc['k']}/{acc['n']} ({acc['value']:.0%}, 95% CI {acc['low']:.0%}-{acc['high']:.0%})")
    for line in keep["recommendation"]:
        print("-", line)
    print(f"wrote {OUT.relative_to(REPO)} in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
