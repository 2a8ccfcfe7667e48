"""The reader's candidates on the dev questions: what else was tried against the shipped reader.

Each candidate is a variant of the shipped reader's recipe (``helpers.workbook.reader_training``), measured on all
46 dev questions (never on test) with the same retriever and compared question by question with the shipped
reader (:func:`helpers.workbook.reader_training.compare_candidates`):

* **chunks at question time** (``--k``): the shipped reader given 2, 4 or 5 chunks instead of the 3 it was
  trained with (``READER_K``); no training, so this script answers them itself;
* **trained candidates** (``--answers``): ``scripts/train_reader.py --out DIR`` with other flags
  (``--steps 220``, ``--questions templated`` or ``both``, ``--abstain-share 0.2``) answers the dev questions and
  writes ``results/benchmarks/reader_dev_<...>_answers.csv``; ``--answers FILE NAME CMD`` adds the reader's
  rows of that file here, as candidate NAME trained by command CMD (repeat for several).

The per-question outcomes go to ``benchmarks/reader_candidates.csv`` (committed; notebook 04 shows the table):
a run replaces the rows of the shipped reader, plain RAG and the ``--k`` candidates and keeps those of trained
candidates not given again. **Rules**, fixed before the candidates ran (``helpers.workbook.reader_training.reader_candidates``):
a trained candidate replaces the shipped reader if it handles more dev questions right (a correct answer, or "I
don't know" to an unanswerable question); a change of ``k`` only if it handles *distinguishably* more right
(paired, exact McNemar p < 0.05: notebook 03's rule for ``k``, which the other systems share). The script fails
if a candidate should replace the shipped reader.
``tests/test_reader_training.py`` checks the file's shipped-reader rows against the shipped manifest.

Usage: ``HF_HUB_OFFLINE=1 python benchmarks/reader_candidates.py [--k 2 4 5] [--answers FILE NAME CMD ...]``
(2-4 minutes per ``k`` on 2 CPU cores; answers already generated come from the cache).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.retrieval import build_retriever  # noqa: E402
from helpers.runtime.config import seed_everything  # noqa: E402
from helpers.runtime.models import load_embedder, load_llm  # noqa: E402
from helpers.systems import build_system, evaluate_systems  # noqa: E402
from helpers.workbook.data import load_kb, load_kb_questions  # noqa: E402
from helpers.workbook.reader import READER_K, load_reader  # noqa: E402
from helpers.workbook.reader_training import READER_CANDIDATES, SHIPPED_READER, reader_candidates  # noqa: E402

PLAIN_RAG = f"plain RAG (k = {READER_K})"  # for reference: what the reader must beat (not a candidate)
#: The per-question columns kept: enough for every rate of compare_candidates and to read the answers.
COLUMNS = ["system", "made_by", "id", "type", "question", "gold", "prediction", "correct", "abstained", "json_valid",
           "retrieved_support", "n_cited", "invented", "cit_precision"]
READER_ROWS = "LoRA reader + RAG"  # the reader's system name in train_reader.py's answers file


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, nargs="*", default=[2, 4, 5], help="chunks at question time to try")
    parser.add_argument("--answers", nargs=3, action="append", default=[], metavar=("FILE", "NAME", "CMD"),
                        help="a trained candidate: train_reader.py's dev answers file, its name, the command that trained it")
    args = parser.parse_args()
    seed_everything()
    kb = load_kb()
    retriever = build_retriever(kb, embedder=load_embedder(), cache=True)
    reader = load_reader(load_llm())
    dev = load_kb_questions("dev")
    documents = {d: doc.text for d, doc in kb.items()}
    here = "benchmarks/reader_candidates.py"
    systems = [build_system("lora+rag", llm=reader, retriever=retriever, k=READER_K, label=SHIPPED_READER),
               build_system("rag", retriever=retriever, k=READER_K, label=PLAIN_RAG)]
    made_by = dict.fromkeys([SHIPPED_READER, PLAIN_RAG], here)
    for k in args.k:
        name = f"shipped reader, k = {k} at question time"
        systems.append(build_system("lora+rag", llm=reader, retriever=retriever, k=k, label=name))
        made_by[name] = f"{here} --k {k}"
    scores = evaluate_systems(systems, dev, documents=documents)
    frames = [scores.assign(made_by=scores["system"].map(made_by))]
    for file, name, made_by in args.answers:
        given = pd.read_csv(file)
        frames.append(given[given["system"] == READER_ROWS].assign(system=name, made_by=made_by))
    kept = pd.read_csv(READER_CANDIDATES) if READER_CANDIDATES.exists() else pd.DataFrame(columns=COLUMNS)
    fresh = pd.concat(frames, ignore_index=True)[COLUMNS]
    kept = kept[~kept["system"].isin(set(fresh["system"])) & ~kept["made_by"].str.startswith(here)]
    rows = pd.concat([fresh, kept], ignore_index=True)
    rows.to_csv(READER_CANDIDATES, index=False)
    table = reader_candidates(READER_CANDIDATES)
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_colwidth", 60):
        print(table.round(3).to_string())
    better = table.index[table["replaces shipped"]].tolist()
    print(f"{len(dev)} dev questions -> {READER_CANDIDATES.relative_to(ROOT)}")
    if better:
        print(f"FAIL: by its rule, {better} should replace the shipped reader")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
