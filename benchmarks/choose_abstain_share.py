"""Choose task A's abstain share on the dev questions (notebook 04's LoRA + RAG adapter).

Task A teaches the model to answer in JSON with its sources, and to say "I don't know" when the
retrieved context does not hold the answer. Which share of answerable training questions also gets
an *abstain* example (their supporting chunks removed) trades wrong abstentions on answerable
questions against right ones on unanswerable questions. For each share in ``--shares`` this script
trains the task-A adapter on the **train** questions (cached under ``.cache/adapters``), answers **all
dev** questions with LoRA + RAG, and picks the share with the most dev questions handled right
(a correct answer, or "I don't know" to an unanswerable question); ties go to the smaller share.
The test split is never touched.

Writes ``results/benchmarks/abstain_share.csv`` and fails if the chosen share is not
``helpers.finetune.TASK_A_ABSTAIN_SHARE``.

Usage: ``HF_HUB_OFFLINE=1 python benchmarks/choose_abstain_share.py`` (about 3 minutes per share on
2 CPU cores; adapters already trained come from the cache).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.comparison import intervals  # noqa: E402
from helpers.finetune import TASK_A_ABSTAIN_SHARE, TASK_A_LORA, task_a_examples  # noqa: E402
from helpers.retrieval import build_retriever  # noqa: E402
from helpers.runtime.adapter_cache import load_or_train_adapter  # noqa: E402
from helpers.runtime.config import seed_everything  # noqa: E402
from helpers.runtime.models import load_embedder  # noqa: E402
from helpers.systems import build_system, evaluate_systems  # noqa: E402
from helpers.workbook.data import load_kb, load_kb_questions  # noqa: E402

K = 3  # as in notebooks 04 and 05


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.1, 0.25, 0.5])
    args = parser.parse_args()
    seed_everything()
    kb = load_kb()
    retriever = build_retriever(kb, embedder=load_embedder(), cache=True)
    train_qs, dev_qs = load_kb_questions("train"), load_kb_questions("dev")
    documents = {d: doc.text for d, doc in kb.items()}
    rows, frames = [], []
    for share in args.shares:
        examples = task_a_examples(train_qs, retriever, k=K, abstain_share=share)
        llm, run = load_or_train_adapter("task-a", examples, lora=TASK_A_LORA)
        name = f"abstain share {share:g}"
        system = build_system("lora+rag", llm=llm, retriever=retriever, k=K, label=name)
        scores = evaluate_systems([system], dev_qs, documents=documents)
        frames.append(scores)
        handled = scores["correct"].astype(bool)  # on an unanswerable question, "correct" means it abstained
        rows.append({"share": share, "examples": len(examples), "train_s": round(run.seconds),
                     "handled right": handled.mean(), "n": len(scores)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).set_index("share")
    rates = intervals(pd.concat(frames), ["accuracy", "wrong_abstention", "abstention_ok"])["value"].unstack("metric")
    rates.index = [float(s.split()[-1]) for s in rates.index]
    table = table.join(rates)
    chosen = float(table.sort_values(["handled right"], ascending=False, kind="stable").index[0])
    out = ROOT / "results" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "abstain_share.csv")
    print(table.round(3).to_string())
    print(f"chosen on {len(dev_qs)} dev questions: abstain share {chosen:g}; TASK_A_ABSTAIN_SHARE = {TASK_A_ABSTAIN_SHARE:g}")
    if chosen != TASK_A_ABSTAIN_SHARE:
        print("FAIL: set helpers.finetune.TASK_A_ABSTAIN_SHARE to the chosen share")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
