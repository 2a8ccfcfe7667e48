"""How many worked examples does notebook 05's few-shot JSON baseline need? Chosen on the dev split.

Usage::

    python benchmarks/shots_on_dev.py

Notebook 05's break-even compares LoRA + RAG (no examples in its prompt) with the base model given RAG
context, the JSON instruction and worked examples. A baseline padded with more examples than it needs
makes fine-tuning look cheaper than it is. This runs that baseline with 1, 2 and 3 worked examples (short
train questions, one chunk of context each, as 05 builds them) on the 46 dev questions and applies the
rule fixed before measuring: **the fewest examples whose valid-JSON rate and accuracy are both not
distinguishably below the 3-example baseline's** (paired exact McNemar on the same questions). Test is
never touched. Writes ``benchmarks/shots_on_dev.json`` (committed; notebook 05 reads the choice).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from helpers.comparison import paired
from helpers.finetune import task_a_examples
from helpers.retrieval import build_retriever
from helpers.runtime.models import load_embedder, load_llm
from helpers.systems import build_system, evaluate_systems
from helpers.workbook.data import load_kb, load_kb_questions

OUT = Path(__file__).resolve().parent / "shots_on_dev.json"
K = 3


def worked_examples(retriever, n: int) -> list[tuple[str, str]]:
    """Notebook 05's worked examples: short train questions with one chunk of context each, the first ``n``."""
    return [(ex.messages[-1]["content"], ex.target) for ex in task_a_examples(load_kb_questions("train"), retriever, k=1)
            if ex.kind == "answer"][:n]


def main() -> int:
    kb = load_kb()
    retriever = build_retriever(kb, embedder=load_embedder(), cache=True)
    llm = load_llm()
    dev = load_kb_questions("dev")
    systems = [build_system("rag", llm=llm, retriever=retriever, k=K, style="json",
                            shots=worked_examples(retriever, n), label=f"{n} shots") for n in (1, 2, 3)]
    start = time.perf_counter()
    scores = evaluate_systems(systems, dev, documents={d: doc.text for d, doc in kb.items()})
    rows, chosen = {}, None
    for n in (1, 2, 3):
        label = f"{n} shots"
        mine = scores[scores.system == label]
        tests = {metric: paired(scores, label, "3 shots", metric) for metric in ("JSON valid", "accuracy")} \
            if n < 3 else {}
        not_below = all(not (t.distinguishable and t.difference < 0) for t in tests.values())
        rows[label] = {"JSON valid": f"{int(mine['json_valid'].sum())}/{len(mine)}",
                       "accuracy": f"{int(mine.loc[mine.type != 'unanswerable', 'correct'].sum())}/"
                                   f"{int((mine.type != 'unanswerable').sum())}",
                       "prompt_tokens": round(float(mine["prompt_tokens"].mean()), 1),
                       "vs 3 shots": {m: str(t) for m, t in tests.items()}}
        if chosen is None and (n == 3 or not_below):
            chosen = n
    result = {"rule": "the fewest worked examples whose valid JSON and accuracy are both not distinguishably below "
                      f"3 examples' on the {len(dev)} dev questions (paired exact McNemar)",
              "chosen": chosen, "rows": rows, "n": len(dev), "seconds": round(time.perf_counter() - start, 1),
              "when": time.strftime("%Y-%m-%d")}
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
