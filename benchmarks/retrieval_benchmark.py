"""Retrieval performance: pipeline overhead over raw encode+FAISS, and exact vs HNSW vs IVF at scale.

(a) Indexing throughput: ``build_retriever(kb, method="dense")`` (chunking, bookkeeping, FAISS
    with 64-bit ids) against raw ``SentenceTransformer.encode`` + ``faiss.IndexFlatIP.add`` on the
    same chunk texts, alternating, best of ``--repeats`` runs each; no embedding cache.
(b) Search latency and recall@10 against exact search for flat / HNSW / IVF on synthetic,
    clustered, normalized 384-d vectors at N = 10k and 100k (``--sizes``), with a plot of how
    search cost grows with N (``benchmarks/retrieval_scaling.png``).

Usage: ``HF_HUB_OFFLINE=1 python benchmarks/retrieval_benchmark.py [--sizes 10000 100000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpers.chunking import chunk_text  # noqa: E402
from helpers.retrieval import build_retriever  # noqa: E402
from helpers.runtime.config import get_settings, seed_everything  # noqa: E402
from helpers.runtime.models import load_embedder  # noqa: E402
from helpers.workbook.ann import compare_faiss_indexes, synthetic_vectors  # noqa: E402
from helpers.workbook.data import load_kb  # noqa: E402


def indexing_overhead(repeats: int) -> pd.DataFrame:
    """Seconds to index the knowledge base: the pipeline vs raw encode + FAISS on the same texts."""
    import faiss

    embedder = load_embedder()
    kb = load_kb()
    probe = build_retriever(kb, method="dense", embedder=embedder)
    texts = [c.text for doc in kb.values() for c in chunk_text(doc.text, doc.doc_id, probe.chunking, doc.title)]
    assert len(texts) == len(probe), "the raw run must embed exactly the pipeline's chunks"

    def raw() -> None:
        vectors = embedder.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype="float32"))

    def pipeline() -> None:
        build_retriever(kb, method="dense", embedder=embedder)

    times: dict[str, list[float]] = {"raw encode + faiss": [], "build_retriever (dense)": []}
    for _ in range(repeats):
        for name, fn in (("raw encode + faiss", raw), ("build_retriever (dense)", pipeline)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    table = pd.DataFrame({name: {"best_s": min(ts), "median_s": float(np.median(ts)),
                                 "chunks/s": len(texts) / min(ts)} for name, ts in times.items()}).T
    table["overhead"] = table["best_s"] / table.loc["raw encode + faiss", "best_s"] - 1
    table.attrs["n_texts"] = len(texts)
    return table


def index_scaling(sizes: list[int], n_queries: int = 200) -> pd.DataFrame:
    """compare_faiss_indexes at each N on synthetic vectors (queries from the same distribution)."""
    frames = []
    for n in sizes:
        data = synthetic_vectors(n + n_queries, 384, clusters=max(50, n // 500), seed=n)
        vectors, queries = data[:n], data[n:]
        t0 = time.perf_counter()
        table = compare_faiss_indexes(vectors, queries, k=10, hnsw_ef=(16, 64, 128), ivf_nprobe=(4, 16, 64))
        print(f"N={n}: {time.perf_counter() - t0:.1f} s", flush=True)
        frames.append(table.assign(N=n))
    return pd.concat(frames, ignore_index=True)


def plot_scaling(table: pd.DataFrame, path: Path) -> None:
    """ms/query vs N for exact search and one setting each of HNSW and IVF."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, mask in (("flat (exact)", table["index"] == "flat (exact)"),
                        ("HNSW efSearch=64", table["param"] == "efSearch=64"),
                        ("IVF nprobe=16", table["param"] == "nprobe=16")):
        rows = table[mask].sort_values("N")
        ax.plot(rows["N"], rows["ms/query"], "o-", label=f"{label} (recall@10 {rows['recall@10'].min():.2f}+)")
    ax.set(xscale="log", yscale="log", xlabel="vectors in the index (N)", ylabel="ms per query",
           title="Search cost vs index size (384-d, 1 thread pool, 2 CPU cores)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-overhead", action="store_true")
    args = parser.parse_args()
    seed_everything()
    results = get_settings().results_dir
    results.mkdir(parents=True, exist_ok=True)
    if not args.skip_overhead:
        overhead = indexing_overhead(args.repeats)
        print(f"\n(a) indexing {overhead.attrs['n_texts']} knowledge-base chunks\n")
        print(overhead.round(3).to_string())
        overhead.to_csv(results / "retrieval_benchmark_overhead.csv")
    scaling = index_scaling(args.sizes)
    print("\n(b) search latency and recall@10 vs exact\n")
    print(scaling.round(4).to_string(index=False))
    scaling.to_csv(results / "retrieval_benchmark_indexes.csv", index=False)
    plot = ROOT / "benchmarks" / "retrieval_scaling.png"
    plot_scaling(scaling, plot)
    print(f"\nplot: {plot.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
