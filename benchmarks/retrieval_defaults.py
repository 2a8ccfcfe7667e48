"""Retrieval defaults that generalize: choose on tuning corpora, check on test splits and a held-out corpus.

1. **Choose.** Every candidate pipeline (``helpers.workbook.retrieval_defaults.CANDIDATES``: dense or hybrid,
   markdown chunks of 128–400 words) is measured on the train + dev questions of the knowledge base and
   the Python FAQ next to the plain baseline (sentence-transformers + FAISS over whole passages, same
   embedder); the maximin rule picks the one whose worst corpus is best. The script fails if that is not
   what ``build_retriever(docs)`` does by default.
2. **Check.** The default, BM25, hybrid, the default + the trained re-ranker, and the baseline on the KB
   and FAQ test splits and on the held-out SQLite/Git FAQ corpus (``data/heldout_faq``, never tuned on),
   with paired differences to the baseline. Any corpus where the default's mean is below the baseline's is
   printed; the script fails if it is below by more than its 95% CI allows (the CI's upper end < 0), or if
   re-ranking is on by default although it does not raise MRR@10 on every corpus.

Writes ``results/benchmarks/retrieval_defaults_{tuning,check}.csv`` and prints both tables.

Usage: ``HF_HUB_OFFLINE=1 python benchmarks/retrieval_defaults.py`` (about 3 minutes with warm caches;
the first run embeds the corpora and trains the re-ranker).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.chunking import ChunkingConfig  # noqa: E402
from helpers.retrieval import Retriever  # noqa: E402
from helpers.runtime.config import seed_everything  # noqa: E402
from helpers.runtime.models import load_embedder  # noqa: E402
from helpers.workbook.rerank_training import load_or_train_reranker  # noqa: E402
from helpers.workbook.retrieval_defaults import (  # noqa: E402
    BASELINE,
    CANDIDATES,
    DEFAULT,
    Pipeline,
    check_corpora,
    choose_default,
    compare_pipelines,
    reranking_helps,
    tuning_corpora,
)

COLUMNS = ["n", "nDCG@10", "MRR@10", "recall@5", "Δ nDCG@10 vs baseline", "CI low", "CI high", "p"]


def main() -> int:
    seed_everything()
    out = ROOT / "results" / "benchmarks"
    out.mkdir(parents=True, exist_ok=True)
    embedder = load_embedder()
    t0 = time.perf_counter()

    tuning = compare_pipelines(tuning_corpora(), {p.name: p for p in CANDIDATES}, embedder=embedder)
    tuning.to_csv(out / "retrieval_defaults_tuning.csv", index=False)
    chosen = choose_default(tuning)
    print("## Choose (train + dev questions)\n")
    print(tuning.set_index(["corpus", "pipeline"])[COLUMNS].round(3).to_string())
    worst = tuning[tuning["pipeline"] != BASELINE].groupby("pipeline")["Δ nDCG@10 vs baseline"].min()
    print(f"\nworst-corpus Δ nDCG@10 per candidate:\n{worst.sort_values(ascending=False).round(3).to_string()}")
    library = Retriever()
    default = Pipeline(library.method, library.chunking)
    print(f"\nchosen by maximin: {chosen}; build_retriever() default: {default.name}")

    reranker = load_or_train_reranker()
    hybrid = Pipeline("hybrid", default.chunking)
    pipelines = {DEFAULT: default, "bm25": Pipeline("bm25", default.chunking), hybrid.name: hybrid,
                 "default + re-rank": Pipeline(default.method, default.chunking, rerank=True),
                 "dense, markdown 128 (old chunking)": Pipeline("dense", ChunkingConfig("markdown", 128, 0))}
    check = compare_pipelines(check_corpora(), pipelines, reranker=reranker, embedder=embedder)
    check.to_csv(out / "retrieval_defaults_check.csv", index=False)
    print("\n## Check (test splits and the held-out corpus; nothing here was tuned on)\n")
    print(check.set_index(["corpus", "pipeline"])[COLUMNS + ["Δ MRR@10 from re-ranking"]].round(3).to_string())
    print(f"\n{time.perf_counter() - t0:.0f} s")

    failures = []
    if chosen != default.name:
        failures.append(f"the maximin choice ({chosen}) is not build_retriever()'s default ({default.name})")
    default_rows = check[check["pipeline"] == DEFAULT]
    for _, row in default_rows[default_rows["Δ nDCG@10 vs baseline"] < 0].iterrows():
        print(f"note: default {row['Δ nDCG@10 vs baseline']:+.3f} nDCG@10 below the baseline on {row['corpus']} "
              f"(95% CI {row['CI low']:+.3f} to {row['CI high']:+.3f}, p = {row['p']:.2g})")
    below = default_rows[default_rows["CI high"] < 0]
    failures += [f"default distinguishably below the baseline on {c}" for c in below["corpus"]]
    if library.reranker is not None and not reranking_helps(check):
        failures.append("re-ranking is on by default but does not raise MRR@10 on every corpus")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    sys.exit(main())
