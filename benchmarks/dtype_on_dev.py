"""fp32 or bf16 for generation? Accuracy on the dev split (paired) and speed, per system (``make benchmark-dtype``).

Usage::

    python benchmarks/dtype_on_dev.py [--dtypes fp32,bf16]

Runs closed-book, RAG (text, top 3) and the shipped reader (LoRA + RAG) on the 46 dev questions once per
dtype with the generation cache off, and compares each system's accuracy across dtypes with the paired
test (exact McNemar, paired bootstrap CI): the evidence the profile's ``dtype`` is chosen on. Test is
never touched. Writes ``results/benchmarks/dtype_dev.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd

from helpers.comparison import outcomes, paired
from helpers.retrieval import build_retriever
from helpers.runtime.config import seed_everything
from helpers.runtime.models import load_embedder, load_llm
from helpers.systems import build_system
from helpers.workbook.data import load_kb, load_kb_questions
from helpers.workbook.reader import load_reader

OUT = Path(__file__).resolve().parent.parent / "results" / "benchmarks" / "dtype_dev.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dtypes", default="fp32,bf16")
    args = parser.parse_args()
    seed_everything()
    kb, dev = load_kb(), load_kb_questions("dev")
    retriever = build_retriever(kb, embedder=load_embedder(), cache=True)
    documents = {d: doc.text for d, doc in kb.items()}
    dtypes = args.dtypes.split(",")
    rows, scores, texts = [], [], {}
    for dtype in dtypes:
        base = load_llm(dtype=dtype)
        systems = {"closed-book": build_system("prompt", llm=base, label=f"closed-book {dtype}"),
                   "RAG": build_system("rag", llm=base, retriever=retriever, k=3, label=f"RAG {dtype}"),
                   "LoRA + RAG (reader)": build_system("lora+rag", llm=load_reader(base=load_llm(dtype=dtype)),
                                                       retriever=retriever, k=3, label=f"LoRA + RAG (reader) {dtype}")}
        for name, system in systems.items():
            start = time.perf_counter()
            answers = system.answer([q.question for q in dev], progress=False)  # the cache is off: see main guard
            seconds = time.perf_counter() - start
            table = system.score(dev, answers, documents=documents)
            scores.append(table)
            texts[(name, dtype)] = [a.generation.text for a in answers]
            correct = outcomes(table, system.name, "accuracy")
            tokens = sum(a.generation.prompt_tokens + a.generation.completion_tokens for a in answers)
            rows.append({"system": name, "dtype": dtype, "accuracy": f"{int(correct.sum())}/{len(correct)}",
                         "seconds": round(seconds, 1), "tokens_per_s": round(tokens / seconds, 1)})
            print(rows[-1], flush=True)
    scores_all = pd.concat(scores, ignore_index=True)
    tests = []
    if len(dtypes) == 2:
        a, b = dtypes[1], dtypes[0]
        for name in ("closed-book", "RAG", "LoRA + RAG (reader)"):
            test = paired(scores_all, f"{name} {a}", f"{name} {b}")
            speed = {r["dtype"]: r["seconds"] for r in rows if r["system"] == name}
            same = sum(x == y for x, y in zip(texts[(name, a)], texts[(name, b)]))
            tests.append({"system": name, "comparison": f"{a} - {b}", "paired": str(test), "p": test.p_value,
                          "distinguishable": test.distinguishable, "speedup": round(speed[b] / speed[a], 2),
                          "identical_answers": f"{same}/{len(dev)}"})
            print(tests[-1], flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"split": "dev", "n_questions": len(dev), "rows": rows, "paired": tests}, indent=2) + "\n",
                   encoding="utf-8")
    print(f"written to {OUT}")


if __name__ == "__main__":
    os.environ["WORKBOOK_GENERATION_CACHE"] = "0"  # every answer generated and timed in this run
    main()
