"""Approximate nearest-neighbour search: exact (flat) vs HNSW vs IVF FAISS indexes, measured.

Exact search takes well under a millisecond at the workbook's size; :func:`compare_faiss_indexes` shows
what approximate indexes trade (recall) for speed, on real vectors (notebook 03) or at larger N. The
indexes are built by :func:`helpers.retrieval.make_faiss_index` (also importable from here).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from helpers.retrieval import make_faiss_index

if TYPE_CHECKING:
    import pandas as pd


def set_search_param(index: Any, value: int) -> None:
    """``efSearch`` for an HNSW index, ``nprobe`` for an IVF index (no-op for flat)."""
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = value
    elif hasattr(index, "nprobe"):
        index.nprobe = value


def compare_faiss_indexes(
    vectors: np.ndarray,
    queries: np.ndarray,
    *,
    k: int = 10,
    hnsw_ef: Sequence[int] = (16, 32, 64, 128),
    ivf_nprobe: Sequence[int] = (1, 4, 16, 64),
    repeats: int = 3,
) -> pd.DataFrame:
    """Recall@k against exact search and latency (best of ``repeats`` batches, per query) for flat,
    HNSW and IVF at several settings: one row per (index, setting) with ``build_s``, ``ms/query``."""
    import pandas as pd

    def timed_search(index: Any) -> tuple[float, np.ndarray]:
        best, ids = float("inf"), None
        for _ in range(repeats):
            t0 = time.perf_counter()
            _, ids = index.search(queries, k)
            best = min(best, time.perf_counter() - t0)
        return 1000 * best / len(queries), ids

    rows = []
    t0 = time.perf_counter()
    flat = make_faiss_index("flat", vectors)
    build = time.perf_counter() - t0
    ms, exact = timed_search(flat)
    rows.append({"index": "flat (exact)", "param": "-", "build_s": build, "ms/query": ms, f"recall@{k}": 1.0})
    for kind, settings, label in (("hnsw", hnsw_ef, "efSearch"), ("ivf", ivf_nprobe, "nprobe")):
        t0 = time.perf_counter()
        index = make_faiss_index(kind, vectors)
        build = time.perf_counter() - t0
        for value in settings:
            set_search_param(index, value)
            ms, ids = timed_search(index)
            recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(ids.tolist(), exact.tolist())])
            rows.append({"index": kind, "param": f"{label}={value}", "build_s": build, "ms/query": ms,
                         f"recall@{k}": float(recall)})
    return pd.DataFrame(rows)


def synthetic_vectors(n: int, dim: int = 384, *, clusters: int = 100, spread: float = 0.5,
                      seed: int = 0) -> np.ndarray:
    """``n`` normalized float32 vectors drawn around ``clusters`` random centres (embedding-like)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype("float32")
    x = centres[rng.integers(0, clusters, n)] + spread * rng.standard_normal((n, dim)).astype("float32")
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype="float32")
